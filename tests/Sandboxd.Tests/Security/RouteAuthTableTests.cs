using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Security;

/// <summary>One agent plus a session token in each state: live, expired and revoked.</summary>
public sealed class TokenStatesFixture : IAsyncLifetime
{
    public AgentProcess Agent { get; private set; } = null!;
    public string Live { get; private set; } = "";
    public string Expired { get; private set; } = "";
    public string Revoked { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        Live = await CreateAsync("{}", ct);
        Expired = await CreateAsync("""{"expiresIn":1}""", ct);
        var revoked = await Agent.Client.PostJsonAsync("/auth/session_tokens", "{}", ct);
        Revoked = revoked.Json.GetProperty("token").GetString()!;
        (await Agent.Client.DeleteAsync("/auth/session_tokens/" + revoked.Json.GetProperty("id").GetString(), ct)).ShouldHaveStatus(204);
        await Eventually.UntilAsync(() => StatusAsync(Expired, ct), authenticated => !authenticated, TimeSpan.FromSeconds(15), "the 1 s token to expire", ct);
    }

    private async Task<string> CreateAsync(string body, CancellationToken ct)
    {
        var response = await Agent.Client.PostJsonAsync("/auth/session_tokens", body, ct);
        response.Code.Should().BeOneOf([200, 201], response.Describe());
        return response.Json.GetProperty("token").GetString()!;
    }

    private async Task<bool> StatusAsync(string token, CancellationToken ct)
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/auth/status", null, ct, r => r.Headers.Authorization = new("Bearer", token));
        return response.Data.GetProperty("authenticated").GetBoolean();
    }

    public async ValueTask DisposeAsync() => await Agent.DisposeAsync();
}

public sealed class RouteAuthTableTests(TokenStatesFixture fixture) : IClassFixture<TokenStatesFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every protected route of the spec's table §1 (#6–#58) with a sample body.</summary>
    public static readonly (int Number, string Method, string Path, string? Body)[] Routes =
    [
        (6, "POST", "/auth/session_tokens", "{}"),
        (7, "GET", "/auth/session_tokens", null),
        (8, "GET", "/auth/session_tokens/tok_x", null),
        (9, "DELETE", "/auth/session_tokens/tok_x", null),
        (10, "POST", "/auth/magic-links", "{}"),
        (11, "POST", "/run/command", """{"command":"touch pwned-11"}"""),
        (12, "POST", "/run/code", """{"code":"print(1)","language":"python"}"""),
        (13, "POST", "/execute", """{"command":"touch pwned-13"}"""),
        (14, "POST", "/terminals", """{"pty":false}"""),
        (15, "GET", "/terminals", null),
        (16, "GET", "/terminals/term_x", null),
        (17, "DELETE", "/terminals/term_x", null),
        (18, "POST", "/terminals/term_x/execute", """{"command":"true"}"""),
        (19, "GET", "/terminals/term_x/commands", null),
        (20, "GET", "/terminals/term_x/commands/cmd_x", null),
        (21, "GET", "/terminals/term_x/commands/cmd_x/wait?timeout=1", null),
        (22, "GET", "/files?path=.", null),
        (23, "POST", "/files", """{"path":"pwned-23.txt","content":"x"}"""),
        (24, "POST", "/files/batch", """{"files":[{"path":"pwned-24.txt","operation":"write","content":"x"}]}"""),
        (25, "GET", "/files/some.txt?content=true", null),
        (26, "HEAD", "/files/some.txt", null),
        (27, "DELETE", "/files/some.txt", null),
        (28, "POST", "/filesystem/overlays", """{"source":"/tmp","target":"pwned-28"}"""),
        (29, "GET", "/filesystem/overlays", null),
        (30, "GET", "/filesystem/overlays/ov_x", null),
        (31, "DELETE", "/filesystem/overlays/ov_x", null),
        (32, "POST", "/watchers", """{"path":"."}"""),
        (33, "GET", "/watchers", null),
        (34, "GET", "/watchers/w_x", null),
        (35, "DELETE", "/watchers/w_x", null),
        (36, "POST", "/signals/start", "{}"),
        (37, "GET", "/signals/status", null),
        (38, "POST", "/signals/stop", "{}"),
        (39, "POST", "/signals/port", """{"port":3000,"type":"open"}"""),
        (40, "POST", "/signals/port/3000/open", "{}"),
        (41, "POST", "/signals/error", """{"message":"x"}"""),
        (42, "POST", "/signals/server-ready", """{"port":3000}"""),
        (43, "GET", "/env?file=.env", null),
        (44, "POST", "/env?file=pwned.env", """{"variables":{"A":"1"}}"""),
        (45, "DELETE", "/env?file=.env", """{"keys":["A"]}"""),
        (46, "HEAD", "/env?file=.env", null),
        (47, "GET", "/servers", null),
        (48, "POST", "/servers", """{"slug":"pwned","start":"touch pwned-48"}"""),
        (49, "GET", "/servers/x", null),
        (50, "DELETE", "/servers/x", null),
        (51, "POST", "/servers/x/stop", "{}"),
        (52, "POST", "/servers/x/restart", "{}"),
        (53, "GET", "/servers/x/logs", null),
        (54, "PATCH", "/servers/x/status", """{"status":"ready"}"""),
        (55, "POST", "/sandboxes", "{}"),
        (56, "GET", "/sandboxes", null),
        (57, "GET", "/sandboxes/sandbox-x", null),
        (58, "DELETE", "/sandboxes/sandbox-x?delete_files=true", null),
        // sandboxd extensions (issue 15)
        (101, "PUT", "/files/pwned-101.bin", "x"),
        (102, "GET", "/files/some.txt?raw=true", null),
        (103, "POST", "/files/archive?path=pwned-103", "x"),
        (104, "GET", "/files/archive?path=.", null),
        (105, "GET", "/processes", null),
        (106, "POST", "/processes/1/signal", """{"signal":"TERM"}"""),
        (107, "GET", "/metrics", null),
    ];

    public static TheoryData<int, string, string> Cases()
    {
        var data = new TheoryData<int, string, string>();
        foreach (var (number, _, _, _) in Routes)
        {
            foreach (var kind in new[] { "none", "wrong", "expired", "revoked" })
            {
                data.Add(number, kind, "401");
            }

            if (number is >= 6 and <= 10)
            {
                data.Add(number, "session", "403");
            }
        }

        return data;
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Cases))]
    public async Task A_protected_route_refuses_a_bad_credential(int route, string credential, string expected)
    {
        var (_, method, path, body) = Routes.Single(r => r.Number == route);
        var token = credential switch
        {
            "none" => null,
            "wrong" => "not-a-real-token",
            "expired" => fixture.Expired,
            "revoked" => fixture.Revoked,
            "session" => fixture.Live,
            _ => throw new ArgumentOutOfRangeException(nameof(credential)),
        };

        var response = await Agent.Anonymous.SendAsync(new HttpMethod(method), path, body, Ct, r =>
        {
            if (token is not null)
            {
                r.Headers.Authorization = new("Bearer", token);
            }
        });

        var code = int.Parse(expected);
        if (method == "HEAD")
        {
            response.ShouldHaveStatus(code);
        }
        else
        {
            response.ShouldBeError(code);
        }

        Directory.EnumerateFileSystemEntries(Agent.Root, "pwned*").Should().BeEmpty("a refused request must have no effect");
    }

    [Theory(Timeout = 30_000)]
    [InlineData(11, "POST", "/run/command", """{"command":"echo ok"}""")]
    [InlineData(22, "GET", "/files?path=.", null)]
    [InlineData(47, "GET", "/servers", null)]
    [InlineData(56, "GET", "/sandboxes", null)]
    public async Task A_live_session_token_is_accepted_on_ordinary_routes(int route, string method, string path, string? body)
    {
        _ = route;
        var response = await Agent.Anonymous.SendAsync(new HttpMethod(method), path, body, Ct, r => r.Headers.Authorization = new("Bearer", fixture.Live));
        response.ShouldHaveStatus(200);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(null)]
    [InlineData("not-a-real-token")]
    [InlineData("expired")]
    [InlineData("revoked")]
    public async Task The_WebSocket_upgrade_refuses_a_bad_token_with_401(string? kind)
    {
        var token = kind switch { "expired" => fixture.Expired, "revoked" => fixture.Revoked, _ => kind };
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        var url = $"ws://{Agent.BaseUrl.Authority}/ws?protocol=json" + (token is null ? "" : "&token=" + Uri.EscapeDataString(token));
        var connect = async () => await socket.ConnectAsync(new Uri(url), Ct);
        await connect.Should().ThrowAsync<WebSocketException>();
        socket.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_WebSocket_upgrade_accepts_a_live_session_token()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{Agent.BaseUrl.Authority}/ws?protocol=json&token={Uri.EscapeDataString(fixture.Live)}"), Ct);
        socket.State.Should().Be(WebSocketState.Open);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Ct);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/health")]
    [InlineData("/info")]
    [InlineData("/ready")]
    [InlineData("/auth/status")]
    [InlineData("/auth/info")]
    public async Task A_public_route_answers_without_a_token_and_ignores_a_wrong_one(string path)
    {
        (await Agent.Anonymous.GetAsync(path, Ct)).ShouldHaveStatus(200);
        (await Agent.Anonymous.SendAsync(HttpMethod.Get, path, null, Ct, r => r.Headers.Authorization = new("Bearer", "wrong"))).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_CORS_preflight_answers_without_a_token()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Options, "/run/command", null, Ct, r =>
        {
            r.Headers.Add("Origin", "http://example.com");
            r.Headers.Add("Access-Control-Request-Method", "POST");
        });
        response.ShouldHaveStatus(204);
    }
}
