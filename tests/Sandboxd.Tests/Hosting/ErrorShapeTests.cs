using System.Text;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

/// <summary>
/// Pins the exact status, content type and body bytes of bad requests across routes, so that a change to how errors
/// are produced inside the agent (one domain exception, one mapping, one body binder) cannot change the wire.
/// The expected bodies were recorded from the agent before the error model was unified.
/// </summary>
public sealed class ErrorShapeTests(SmallBodyAgentFixture fixture) : IClassFixture<SmallBodyAgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    public static TheoryData<string, string, string?, int, string> Table => new()
    {
        // body binder
        { "POST", "/run/command", """{"command": "echo hi" """, 400, """{"error":"Invalid JSON body: malformed JSON at $ (line 1, byte 22).","status":"error"}""" },
        { "POST", "/run/command", "null", 400, """{"error":"The JSON request body must be an object, not null.","status":"error"}""" },
        { "POST", "/run/command", """{"command": 5}""", 400, """{"error":"Invalid JSON body: a field has the wrong type at $.command (line 1, byte 13).","status":"error"}""" },
        { "POST", "/run/command", "", 400, """{"error":"A JSON request body is required.","status":"error"}""" },
        { "POST", "/run/command", """{"command":"REPEAT"}""", 413, """{"error":"The request body is larger than the agent accepts (--max-body).","status":"error"}""" },
        // validation in handlers
        { "POST", "/run/command", "{}", 400, """{"error":"Field \u0027command\u0027 is required and must be a non-empty string.","status":"error"}""" },
        { "POST", "/run/code", """{"language":"python"}""", 400, """{"error":"Field \u0027code\u0027 is required and must be a string.","status":"error"}""" },
        { "POST", "/files", """{"content":"x"}""", 400, """{"error":"Field \u0027path\u0027 is required and must be a non-empty string.","status":"error"}""" },
        { "POST", "/files/batch", "{}", 400, """{"error":"Field \u0027files\u0027 is required and must be an array of {path, operation, content?}.","status":"error"}""" },
        { "POST", "/servers", "{}", 400, """{"error":"Field \u0027slug\u0027 is required.","status":"error"}""" },
        { "POST", "/watchers", "{}", 400, """{"error":"Field \u0027path\u0027 is required.","status":"error"}""" },
        { "POST", "/signals/port", "{}", 400, """{"error":"Field \u0027port\u0027 must be a TCP port number (1-65535).","status":"error"}""" },
        { "POST", "/processes/1/signal", """{"signal":"BOGUS"}""", 400, """{"error":"Unknown signal \u0027BOGUS\u0027 (use a name such as TERM, KILL, INT, HUP, USR1, USR2, STOP, CONT, QUIT, WINCH, or a number 1-64).","status":"error"}""" },
        { "POST", "/filesystem/overlays", "{}", 400, """{"error":"Field \u0027source\u0027 is required (an absolute template directory).","status":"error"}""" },
        { "POST", "/filesystem/overlays", """{"source":"/no/such/dir","target":"t"}""", 400, """{"error":"Template directory /no/such/dir does not exist or is not a directory.","status":"error"}""" },
        { "POST", "/filesystem/overlays", """{"source":"adir","target":"t","strategy":"fast"}""", 400, """{"error":"Field \u0027strategy\u0027 must be \u0022smart\u0022 or \u0022copy\u0022 (got \u0022fast\u0022).","status":"error"}""" },
        // env
        { "GET", "/env", null, 400, """{"error":"Query parameter \u0027file\u0027 is required (e.g. /env?file=.env).","status":"error"}""" },
        { "GET", "/env?file=missing.env", null, 404, """{"error":"Env file missing.env does not exist.","status":"error"}""" },
        { "GET", "/env?file=adir", null, 400, """{"error":"adir is a directory, not an env file.","status":"error"}""" },
        // Found by the reliability fuzzer (seed 1548462251): a null value was a 500 (NullReferenceException).
        { "POST", "/env?file=null.env", """{"variables":{"A":null}}""", 400, """{"error":"Field \u0027variables\u0027 must be an object of strings: \u0027A\u0027 is null (DELETE /env removes a variable).","status":"error"}""" },
        { "POST", "/env?file=.env", """{"variables":{"1A":"x"}}""", 400, """{"error":"Invalid variable name \u00271A\u0027: use letters, digits, \u0027_\u0027 and \u0027.\u0027, not starting with a digit.","status":"error"}""" },
        { "DELETE", "/env?file=missing.env", """{"keys":["A"]}""", 404, """{"error":"Env file missing.env does not exist.","status":"error"}""" },
        // files (the file service's failures)
        { "GET", "/files?path=/nope", null, 404, """{"error":"/nope does not exist.","status":"error"}""" },
        { "GET", "/files/nope", null, 404, """{"error":"{root}/nope does not exist.","status":"error"}""" },
        { "GET", "/files/adir?content=true", null, 400, """{"error":"{root}/adir is a directory; list it with GET /files?path= instead.","status":"error"}""" },
        { "DELETE", "/files/", null, 400, """{"error":"A file path is required.","status":"error"}""" },
        { "DELETE", "/files/nope", null, 404, """{"error":"{root}/nope does not exist.","status":"error"}""" },
        { "PUT", "/files/adir", "x", 400, """{"error":"{root}/adir is a directory.","status":"error"}""" },
        { "POST", "/files/archive", "{}", 400, """{"error":"Query parameter \u0027path\u0027 (the directory to extract into) is required.","status":"error"}""" },
        { "GET", "/files/archive?path=/nope", null, 404, """{"error":"/nope does not exist.","status":"error"}""" },
        // lookups by id
        { "GET", "/terminals/nope", null, 404, """{"error":"Terminal nope not found.","status":"error"}""" },
        { "DELETE", "/terminals/nope", null, 404, """{"error":"Terminal nope not found.","status":"error"}""" },
        { "POST", "/terminals/nope/execute", """{"command":"true"}""", 404, """{"error":"Terminal nope not found.","status":"error"}""" },
        { "GET", "/terminals/nope/commands/x", null, 404, """{"error":"Terminal nope not found.","status":"error"}""" },
        { "GET", "/servers/nope", null, 404, """{"error":"Server \u0027nope\u0027 not found.","status":"error"}""" },
        { "POST", "/servers/nope/stop", null, 404, """{"error":"Server \u0027nope\u0027 not found.","status":"error"}""" },
        { "PATCH", "/servers/nope/status", """{"status":"ready"}""", 404, """{"error":"Server \u0027nope\u0027 not found.","status":"error"}""" },
        { "GET", "/watchers/nope", null, 404, """{"error":"Watcher nope not found.","status":"error"}""" },
        { "DELETE", "/watchers/nope", null, 404, """{"error":"Watcher nope not found.","status":"error"}""" },
        { "GET", "/sandboxes/nope", null, 404, """{"error":"No sandbox with subdomain \u0027nope\u0027.","status":"error"}""" },
        { "DELETE", "/sandboxes/nope", null, 404, """{"error":"No sandbox with subdomain \u0027nope\u0027.","status":"error"}""" },
        { "GET", "/filesystem/overlays/nope", null, 404, """{"error":"Overlay nope not found.","status":"error"}""" },
        { "DELETE", "/filesystem/overlays/nope", null, 404, """{"error":"Overlay nope not found.","status":"error"}""" },
        { "POST", "/processes/999999/signal", """{"signal":"TERM"}""", 404, """{"error":"Process 999999 is not a process of this sandbox.","status":"error"}""" },
        { "GET", "/auth/session_tokens/nope", null, 404, """{"error":"Session token nope not found (unknown, expired or revoked).","status":"error"}""" },
        // auth, magic links, the WebSocket route and the workspace assets (typed results since issue 12 item 4)
        { "POST", "/auth/session_tokens", """{"expiresIn":-1}""", 400, """{"error":"Field \u0027expiresIn\u0027 must be a positive number of seconds (at most ten years).","status":"error"}""" },
        { "POST", "/auth/session_tokens", """{"expiresIn":"soon"}""", 400, """{"error":"Invalid JSON body: a field has the wrong type at $.expiresIn (line 1, byte 19).","status":"error"}""" },
        { "DELETE", "/auth/session_tokens/nope", null, 404, """{"error":"Session token nope not found (unknown, expired or revoked).","status":"error"}""" },
        { "POST", "/auth/magic-links", """{"redirectUrl":"https://evil.example/"}""", 400, """{"error":"redirectUrl https://evil.example/ is not allowed: use a path on this agent or an origin given with --allowed-redirect-origin.","status":"error"}""" },
        { "GET", "/auth/magic/nope", null, 404, """{"error":"This magic link does not exist.","status":"error"}""" },
        { "GET", "/ws", null, 400, """{"error":"This endpoint speaks WebSocket only: send an Upgrade request.","status":"error"}""" },
        { "GET", "/play/nope.js", null, 404, """{"error":"No such asset: nope.js","status":"error"}""" },
        { "GET", "/workspace/a..b", null, 404, """{"error":"No such asset.","status":"error"}""" },
        // raw file bytes and archives
        { "GET", "/files/nope?raw=true", null, 404, """{"error":"{root}/nope does not exist.","status":"error"}""" },
        { "GET", "/files/adir?raw=true", null, 400, """{"error":"{root}/adir is a directory; fetch it as a tar with GET /files/archive?path= instead.","status":"error"}""" },
        { "PUT", "/files/new.txt?mode=9z", "x", 400, """{"error":"mode \u00279z\u0027 is not an octal file mode such as 0644.","status":"error"}""" },
        { "PUT", "/files/afile/x.txt", "x", 400, """{"error":"Cannot create parent directory {root}/afile: a file with that name exists.","status":"error"}""" },
        { "GET", "/files/archive?path=afile", null, 400, """{"error":"{root}/afile is not a directory.","status":"error"}""" },
        { "POST", "/files/archive?path=afile", "x", 400, """{"error":"{root}/afile is a file, not a directory.","status":"error"}""" },
        { "POST", "/files/archive?path=into", "TAR:../evil", 400, """{"error":"Refused: the archive entry \u0027../evil\u0027 contains \u0027..\u0027 and could leave the directory.","status":"error"}""" },
        { "POST", "/files/archive?path=into", "TAR:/abs", 400, """{"error":"Refused: the archive entry \u0027/abs\u0027 is an absolute path; names must be relative to the directory.","status":"error"}""" },
        // framework answers and auth
        { "GET", "/no/such/route", null, 404, """{"error":"Not found: GET /no/such/route","status":"error"}""" },
        { "PUT", "/run/command", "{}", 405, """{"error":"Method PUT is not allowed on /run/command","status":"error"}""" },
        { "ANON", "/run/command", "{}", 401, """{"error":"unauthorized: send Authorization: Bearer \u003Ctoken\u003E","status":"error"}""" },
    };

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Table))]
    public async Task A_bad_request_answers_exactly_the_status_and_body_it_always_has(string method, string path, string? body, int status, string expected)
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "adir"));
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "afile"), "x", ct);
        var client = method == "ANON" ? Agent.Anonymous : Agent.Client;
        var bytes = body is not null && body.StartsWith("TAR:", StringComparison.Ordinal)
            ? TarOf(body[4..])
            : body is null ? null : Encoding.UTF8.GetBytes(body.Replace("REPEAT", new string('a', 2000), StringComparison.Ordinal));

        var response = await client.SendAsync(new HttpMethod(method == "ANON" ? "POST" : method), path, null, ct, r =>
        {
            if (bytes is not null)
            {
                r.Content = new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } };
            }
        });

        response.Code.Should().Be(status, response.Describe());
        response.ContentHeaders.ContentType?.ToString().Should().Be("application/json; charset=utf-8", response.Describe());
        response.Text.Should().Be(expected.Replace("{root}", Agent.Root, StringComparison.Ordinal), response.Describe());
    }

    /// <summary>A one-entry ustar archive whose entry has the given name (System.Formats.Tar writes names as given).</summary>
    private static byte[] TarOf(string entryName)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(buffer, System.Formats.Tar.TarEntryFormat.Ustar, leaveOpen: true))
        {
            writer.WriteEntry(new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, entryName)
            {
                DataStream = new MemoryStream("x"u8.ToArray()),
            });
        }

        return buffer.ToArray();
    }
}
