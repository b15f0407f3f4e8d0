using System.Globalization;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Reliability;

/// <summary>The routes the fuzzer aims at, each with a well-formed body (fields as JSON text) that the generator mutates.</summary>
public sealed class FuzzTargets
{
    private string _execTerminal = "";
    private string _server = "";

    private FuzzTargets()
    {
    }

    /// <summary>An exec terminal and a server exist so that the routes under them reach their handlers.</summary>
    public static async Task<FuzzTargets> PrepareAsync(AgentProcess agent, CancellationToken ct)
    {
        var targets = new FuzzTargets();
        var terminal = await agent.Client.PostJsonAsync("/terminals", "{\"pty\":false}", ct);
        terminal.Code.Should().BeOneOf([200, 201], terminal.Describe());
        targets._execTerminal = terminal.Data.GetProperty("id").GetString()!;
        targets._server = "fuzz-server";
        var server = await agent.Client.PostJsonAsync("/servers", "{\"slug\":\"fuzz-server\",\"start\":\"sleep 60\",\"autostart\":false}", ct);
        server.Code.Should().BeOneOf([200, 201], server.Describe());
        Directory.CreateDirectory(Path.Combine(agent.Root, "fuzz-src"));
        await File.WriteAllTextAsync(Path.Combine(agent.Root, "fuzz-src", "a.txt"), "a", ct);
        return targets;
    }

    /// <summary>Stops what the valid cases started (servers, terminals), so the agent's clean stop is quick.</summary>
    public async Task CleanUpAsync(AgentProcess agent, CancellationToken ct)
    {
        var servers = await agent.Client.GetAsync("/servers", ct);
        foreach (var server in servers.Data.GetProperty("servers").EnumerateArray())
        {
            await agent.Client.DeleteAsync("/servers/" + Uri.EscapeDataString(server.GetProperty("slug").GetString()!), ct);
        }

        var terminals = await agent.Client.GetAsync("/terminals", ct);
        foreach (var terminal in terminals.Data.GetProperty("terminals").EnumerateArray())
        {
            await agent.Client.DeleteAsync("/terminals/" + terminal.GetProperty("id").GetString(), ct);
        }

        _ = _server;
    }

    public (HttpMethod Method, string Path, IReadOnlyList<(string Key, string Value)>? Fields) Pick(FuzzInput f)
    {
        static string Q(string s) => FuzzInput.Quote(s);
        string B() => f.Chance(2) ? "true" : "false";
        string N(int max) => f.Next(max).ToString(CultureInfo.InvariantCulture);
        string EncodedPath() => string.Join('/', f.RelativePath().Split('/').Select(Uri.EscapeDataString));

        switch (f.Next(22))
        {
            case 0:
            case 1:
            case 2:
                return (HttpMethod.Post, "/run/command", Fields(f,
                    ("command", Q(f.Command())), ("background", B()), ("stream", B()), ("cwd", Q(f.RelativePath())),
                    ("env", FuzzInput.JsonObject([(f.WeirdString(), Q(f.WeirdString()))])), ("shell", Q(f.Pick(["/bin/sh", "/bin/bash", f.WeirdString()]))),
                    ("timeout", N(5))));
            case 3:
                return (HttpMethod.Post, "/run/code", Fields(f, ("code", Q(f.Pick(["print(1)", "console.log(1)", "1+", f.WeirdString()]))),
                    ("language", Q(f.Pick(["python", "node", "bash", f.WeirdString()])))));
            case 4:
                return (HttpMethod.Post, "/execute", Fields(f, ("command", Q(f.Command())), ("background", B())));
            case 5:
                return (HttpMethod.Post, "/terminals", Fields(f, ("pty", f.Chance(8) ? "true" : "false"),
                    ("shell", Q(f.Pick(["/bin/sh", f.WeirdString()]))), ("encoding", Q(f.Pick(["raw", "base64", f.WeirdString()]))),
                    ("cwd", Q(f.Pick(["fuzz-src", f.RelativePath(), "a\u0000b"]))), ("cols", f.Value()), ("rows", N(2000))));
            case 6:
                return (HttpMethod.Post, $"/terminals/{_execTerminal}/execute", Fields(f, ("command", Q(f.Command())), ("background", B())));
            case 7:
            case 8:
                return (HttpMethod.Post, "/files", Fields(f, ("path", Q(f.RelativePath())), ("content", Q(f.RandomText(f.Next(300))))));
            case 9:
                return (HttpMethod.Post, "/files/batch", Fields(f, ("files", "[" + string.Join(',', Enumerable.Range(0, 1 + f.Next(4)).Select(_ =>
                    FuzzInput.JsonObject(Fields(f, ("path", Q(f.RelativePath())), ("operation", Q(f.Pick(["write", "delete", f.WeirdString()]))),
                        ("content", Q(f.RandomText(20))))))) + "]")));
            case 10:
                return (HttpMethod.Post, "/auth/session_tokens", Fields(f, ("description", Q(f.WeirdString())), ("expires_in", N(100_000))));
            case 11:
                return (HttpMethod.Post, "/auth/magic-links", Fields(f, ("redirect_url", Q(f.Pick(["/", "/workspace", "http://evil.example/", "/\t/evil", f.WeirdString()])))));
            case 12:
                return (HttpMethod.Post, "/watchers", Fields(f, ("path", Q(f.RelativePath())), ("includeContent", B()),
                    ("ignored", "[" + Q(f.WeirdString()) + "]"), ("encoding", Q(f.Pick(["raw", "base64", f.WeirdString()])))));
            case 13:
                return (HttpMethod.Post, f.Pick(["/signals/port", "/signals/server-ready", "/signals/error"]), Fields(f,
                    ("port", N(70_000)), ("type", Q(f.Pick(["open", "close", f.WeirdString()]))), ("url", Q(f.WeirdString())), ("message", Q(f.WeirdString()))));
            case 14:
                return (HttpMethod.Post, "/servers", Fields(f, ("slug", Q(f.WeirdString())), ("start", Q(f.Start())), ("autostart", "false"),
                    ("port", N(70_000)), ("restart_policy", Q(f.Pick(["never", "on-failure", "always", f.WeirdString()]))),
                    ("health_check", FuzzInput.JsonObject(Fields(f, ("path", Q(f.WeirdString())), ("interval_ms", N(100_000))))),
                    ("environment", FuzzInput.JsonObject([(f.WeirdString(), Q(f.WeirdString()))])), ("path", Q(f.RelativePath())),
                    ("stop_timeout_ms", N(3000)), ("max_restarts", N(3))));
            case 15:
                return (HttpMethod.Patch, $"/servers/{(f.Chance(2) ? _server : Uri.EscapeDataString(f.WeirdString()))}/status",
                    Fields(f, ("status", Q(f.Pick(["running", "ready", "stopped", f.WeirdString()])))));
            case 16:
                var file = Uri.EscapeDataString(f.Pick(["fuzz.env", ".env", f.RelativePath()]));
                return f.Chance(2)
                    ? (HttpMethod.Post, "/env?file=" + file, Fields(f, ("variables", FuzzInput.JsonObject([(f.WeirdString(), Q(f.WeirdString())), ("A", f.Value())]))))
                    : (HttpMethod.Delete, "/env?file=" + file, Fields(f, ("keys", "[" + Q(f.WeirdString()) + "," + f.Value() + "]")));
            case 17:
                return (HttpMethod.Post, "/filesystem/overlays", Fields(f, ("source", Q(f.Pick(["fuzz-src", "missing-dir", ""]))),
                    ("target", Q(f.RelativePath())), ("strategy", Q(f.Pick(["copy", "smart", f.WeirdString()]))), ("ignore", "[" + Q(f.WeirdString()) + "]")));
            case 18:
                return (HttpMethod.Post, "/sandboxes", Fields(f, ("subdomain", Q(f.WeirdString())), ("template", f.Value())));
            case 19:
                return (f.Pick([HttpMethod.Get, HttpMethod.Head, HttpMethod.Delete]), "/files/" + EncodedPath() + (f.Chance(2) ? "?content=true" : ""), null);
            case 20:
                return (HttpMethod.Get, "/files?path=" + Uri.EscapeDataString(f.RelativePath()), null);
            default:
                return (f.Pick([HttpMethod.Get, HttpMethod.Post, HttpMethod.Delete]), f.Pick(["/servers/", "/terminals/", "/watchers/", "/auth/session_tokens/", "/sandboxes/"]) +
                    Uri.EscapeDataString(f.WeirdString()), f.Chance(2) ? Fields(f, ("x", f.Value())) : null);
        }
    }

    /// <summary>Optional fields are each left out half the time; the first field (the required one) is always there.</summary>
    private static List<(string Key, string Value)> Fields(FuzzInput f, params (string Key, string Value)[] fields) =>
        fields.Where((_, i) => i == 0 || f.Chance(2)).ToList();
}
