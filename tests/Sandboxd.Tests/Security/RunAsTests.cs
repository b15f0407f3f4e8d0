using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Security;

/// <summary>
/// Issue 13 #1: a session token must not become the access token. With <c>--run-as</c>, an agent running as root
/// starts commands, terminals and servers as that user; its token (argv, environment, token file), state and memory
/// stay out of the workload's reach, and what the API writes belongs to the user. These tests need root (CI is root)
/// and skip, saying so, otherwise. The run-as user is <c>nobody</c>, present on every system.
/// </summary>
public sealed partial class RunAsTests
{
    private const string User = "nobody";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void RequireRoot()
    {
        if (Environment.UserName != "root" && !File.ReadAllText("/proc/self/status").Contains("\nUid:\t0\t", StringComparison.Ordinal))
        {
            Assert.Skip("SKIPPED LOUDLY: --run-as needs the agent to run as root and this test run is not root; run it as root (CI does).");
        }
    }

    private static (uint Uid, uint Gid) UserIds()
    {
        var line = File.ReadLines("/etc/passwd").First(l => l.StartsWith(User + ":", StringComparison.Ordinal)).Split(':');
        return (uint.Parse(line[2], CultureInfo.InvariantCulture), uint.Parse(line[3], CultureInfo.InvariantCulture));
    }

    /// <summary>A sandbox root the run-as user owns (the operator's part of the set-up, like the image's /home/sandbox).</summary>
    private static string UserRoot()
    {
        var root = Directory.CreateTempSubdirectory("sandboxd-runas-root-").FullName;
        var (uid, gid) = UserIds();
        Run("chown", $"{uid}:{gid}", root);
        return root;
    }

    private static void Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        p.WaitForExit(10_000).Should().BeTrue();
        p.ExitCode.Should().Be(0, p.StandardError.ReadToEnd());
    }

    public static TheoryData<string> TokenSources => ["argv", "environment", "generated-file"];

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(TokenSources))]
    public async Task A_command_started_with_a_session_token_cannot_read_the_access_token_or_its_hashes(string source)
    {
        RequireRoot();
        var root = UserRoot();
        var apiKey = "key_" + Guid.NewGuid().ToString("N");
        var envToken = "env_" + Guid.NewGuid().ToString("N");
        var launch = new AgentLaunch
        {
            PassAccessToken = source == "argv",
            ExtraArguments = ["--run-as", User, "--root", root, "--api-key", apiKey],
            Environment = source == "environment" ? new Dictionary<string, string?> { ["COMPUTESDK_ACCESS_TOKEN"] = envToken } : new Dictionary<string, string?>(),
        };
        await using var agent = await AgentProcess.StartAsync(launch, Ct);
        var token = source switch
        {
            "argv" => agent.Token!,
            "environment" => envToken,
            _ => (await File.ReadAllTextAsync(Path.Combine(agent.StateDir, "access-token"), Ct)).Trim(),
        };
        agent.UseToken(token);

        var minted = await agent.Client.PostJsonAsync("/auth/session_tokens", """{"description":"workload","expiresIn":3600}""", Ct);
        minted.Code.Should().BeOneOf([200, 201], minted.Describe());
        var session = minted.Json.GetProperty("token").GetString()!;

        // Everything a workload could try, as the workload: the agent's command line, environment and memory, the
        // token file and every file in the state directory.
        var script = $"""
            P={agent.Pid}; S='{agent.StateDir}'
            echo "uid=$(id -u)"
            echo "cmdline: $(tr '\0' ' ' < /proc/$P/cmdline 2>&1)"
            echo "environ: $(tr '\0' ' ' < /proc/$P/environ 2>&1)"
            ( exec 3< /proc/$P/mem ) 2>/dev/null && echo MEM-OPENED
            ( exec 3< /proc/$P/task/$P/mem ) 2>/dev/null && echo MEM-OPENED
            cat "$S/access-token" 2>&1
            ls -la "$S" 2>&1
            for f in "$S"/* "$S"/.[!.]*; do cat "$f" 2>&1; done
            echo done
            """;
        var run = await agent.Anonymous.SendAsync(HttpMethod.Post, "/run/command", new JsonObject { ["command"] = script }.ToJsonString(), Ct,
            r => r.Headers.Authorization = new("Bearer", session));
        run.ShouldHaveStatus(200);
        var output = run.Data.GetProperty("stdout").GetString() + run.Data.GetProperty("stderr").GetString();

        var (uid, _) = UserIds();
        output.Should().Contain($"uid={uid}\n", "the command runs as the run-as user");
        output.Should().Contain("done");
        output.Should().NotContain("MEM-OPENED", "the agent's memory is not the workload's to open");
        output.Should().NotContain(token, "the access token must not be readable from a workload");
        output.Should().NotContain(apiKey, "nor the API key");
        // Hashes (session tokens, anything else the agent keeps): no long opaque value from the state files shows up.
        foreach (var file in Directory.EnumerateFiles(agent.StateDir))
        {
            foreach (Match secret in Opaque().Matches(await File.ReadAllTextAsync(file, Ct)))
            {
                output.Should().NotContain(secret.Value, $"{Path.GetFileName(file)} is root's (0600 in a 0700 directory)");
            }
        }

        agent.Stderr.Should().Contain($"run as {User}");
        Directory.Delete(root, recursive: true);
    }

    [Fact(Timeout = 90_000)]
    public async Task Commands_terminals_and_servers_run_as_the_user_and_files_the_api_writes_belong_to_it()
    {
        RequireRoot();
        var root = UserRoot();
        var (uid, gid) = UserIds();
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.With("--run-as", User, "--root", root), Ct);

        var info = await agent.Client.GetAsync("/info", Ct);
        info.Data.GetProperty("isolation").GetProperty("run_as").GetString().Should().Be(User, info.Describe());

        var command = await agent.Client.RunAsync("id -u; id -g; echo \"$HOME $USER\"; cat /proc/self/oom_score_adj", Ct);
        var lines = command.Stdout.Split('\n');
        lines[..2].Should().Equal([uid.ToString(CultureInfo.InvariantCulture), gid.ToString(CultureInfo.InvariantCulture)], command.Stderr);
        lines[2].Should().EndWith(" " + User, "HOME and USER are the run-as user's");
        int.Parse(lines[3], CultureInfo.InvariantCulture).Should().BeGreaterThanOrEqualTo(500, "the OOM score is inherited at spawn as before (ADR 0004)");

        // Files: JSON write (with parents), raw PUT, archive-free paths; the workload can change what the API wrote.
        var written = await agent.Client.PostJsonAsync("/files", new JsonObject { ["path"] = root + "/a/b/c.txt", ["content"] = "x" }.ToJsonString(), Ct);
        written.Code.Should().BeOneOf([200, 201], written.Describe());
        using (var put = new HttpRequestMessage(HttpMethod.Put, "/files/" + root + "/raw/d.bin") { Content = new ByteArrayContent([1, 2, 3]) })
        {
            var response = await agent.Client.SendAsync(put, Ct);
            response.Code.Should().BeOneOf([200, 201, 204], response.Describe());
        }

        var owners = await agent.Client.RunAsync("stat -c '%u:%g %n' a a/b a/b/c.txt raw raw/d.bin && echo y >> a/b/c.txt && echo y >> raw/d.bin && echo changed", Ct);
        owners.Stdout.Should().Be(
            $"{uid}:{gid} a\n{uid}:{gid} a/b\n{uid}:{gid} a/b/c.txt\n{uid}:{gid} raw\n{uid}:{gid} raw/d.bin\nchanged\n", owners.Stderr);

        // A PTY terminal: the user's, with its terminal as its controlling TTY and owned by it.
        var id = await LiveApi.CreatePtyAsync(agent.Client, Ct, ",\"shell\":\"/bin/sh\"");
        await using (var socket = await LiveSocket.ConnectAsync(agent, Ct))
        {
            await socket.SubscribeAsync("terminal:" + id, Ct);
            await socket.InputAsync(id, "echo uid=$(id -u)=; test -O \"$(tty)\" && echo owns=yes; (exec 3</dev/tty) && echo ctty=yes\n", Ct);
            await socket.WaitOutputAsync("terminal:output", "terminal:" + id,
                o => o.Contains($"uid={uid}=", StringComparison.Ordinal) && o.Contains("owns=yes", StringComparison.Ordinal) && o.Contains("ctty=yes", StringComparison.Ordinal),
                LiveApi.Quick, "the PTY shell's uid, its tty and its controlling terminal", Ct);
        }

        await LiveApi.DeleteTerminalQuietlyAsync(agent.Client, id);

        var slug = Slug("runas");
        await StartAsync(agent.Client, new JsonObject { ["slug"] = slug, ["start"] = "echo uid=$(id -u)=; exec sleep 60", ["stop_timeout_ms"] = 1000 }, Ct);
        await Eventually.UntilAsync(() => LogsAsync(agent.Client, slug, null, Ct), logs => logs.Contains($"uid={uid}=", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the server's uid in its log", Ct);
        (await agent.Client.DeleteAsync("/servers/" + slug, Ct)).Code.Should().BeOneOf(200, 204);
        Directory.Delete(root, recursive: true);
    }

    [Fact(Timeout = 30_000)]
    public async Task Without_run_as_the_agent_says_the_workload_is_not_isolated()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        var isolation = (await agent.Client.GetAsync("/info", Ct)).Data.GetProperty("isolation");
        isolation.GetProperty("run_as").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Null);
        isolation.GetProperty("reason").GetString().Should().NotBeNullOrEmpty();
        await Eventually.UntilAsync(() => agent.Stderr.Contains("not isolated", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the start-up warning", Ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_or_root_run_as_user_is_refused_at_start()
    {
        foreach (var user in new[] { "no-such-user-" + Guid.NewGuid().ToString("N")[..8], "root" })
        {
            var act = async () => await AgentProcess.StartAsync(AgentLaunch.With("--run-as", user), Ct);
            (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("--run-as " + user);
        }
    }

    [GeneratedRegex("[A-Za-z0-9_+/=-]{32,}")]
    private static partial Regex Opaque();
}
