using System.Globalization;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Processes;

/// <summary>
/// After a kill -9 of the agent and a restart on the same state directory (issue 13 #7): a restored server runs once,
/// and no command, terminal, server or <c>setsid -f</c> escapee of the killed agent is left running.
/// </summary>
public sealed class AgentCrashTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task A_restored_server_runs_exactly_once_after_the_agent_is_SIGKILLed_and_restarted()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-crash-").FullName;
        var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
        AgentProcess? second = null;
        var oldPid = 0;
        try
        {
            var slug = Slug("once");
            var port = FreePort();
            await StartAsync(first.Client, new JsonObject { ["slug"] = slug, ["start"] = PythonHttp, ["port"] = port, ["stop_timeout_ms"] = 2000 }, Ct);
            oldPid = (await WaitForStatusAsync(first.Client, slug, "ready", Bound, Ct)).GetProperty("pid").GetInt32();
            ListenersOf(port).Should().Equal(oldPid);

            await KillAsync(first);
            second = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
            var restored = await WaitForStatusAsync(second.Client, slug, "ready", Bound, Ct);

            var newPid = restored.GetProperty("pid").GetInt32();
            newPid.Should().NotBe(oldPid);
            ProcFs.IsAlive(oldPid).Should().BeFalse("the killed agent's server is stopped before the restored one starts");
            Number(restored, "port").Should().Be(port);
            ListenersOf(port).Should().Equal([newPid], "exactly one server process holds the port");
        }
        finally
        {
            if (oldPid > 0)
            {
                Posix.Kill(oldPid, Posix.SIGKILL);
            }

            await DisposeAsync(second, first);
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Commands_terminals_and_escapees_of_a_SIGKILLed_agent_are_gone_once_the_next_agent_starts()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-orphans-").FullName;
        var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
        AgentProcess? second = null;
        var pids = new List<int>();
        try
        {
            var root = first.Root;
            var command = await first.Client.PostJsonAsync("/run/command", """{"command":"echo $$ > cmd.pid; exec sleep 300","background":true}""", Ct);
            command.ShouldHaveStatus(200);
            pids.Add(await PidFileAsync(Path.Combine(root, "cmd.pid")));

            var before = ChildrenOf(first.Pid);
            var terminalId = await LiveApi.CreatePtyAsync(first.Client, Ct, ",\"shell\":\"/bin/sh\"");
            var shell = await Eventually.UntilAsync(() => ChildrenOf(first.Pid).Except(before).ToList(), c => c.Count == 1, Bound, "the terminal's shell", Ct);
            pids.Add(shell[0]);
            await using (var socket = await LiveSocket.ConnectAsync(first, Ct))
            {
                // The PTY's hangup ends the shell when the agent dies; a job started with nohup ignores it and stays.
                await socket.InputAsync(terminalId, "nohup sleep 302 >/dev/null 2>&1 &\n", Ct);
                pids.Add((await Eventually.UntilAsync(() => ChildrenOf(shell[0]), c => c.Count == 1, Bound, "the terminal's job", Ct))[0]);
            }

            var escape = await first.Client.RunAsync("setsid -f sh -c 'echo $$ > esc.pid; exec sleep 301'", Ct);
            escape.ExitCode.Should().Be(0, escape.Stderr);
            var escapee = await PidFileAsync(Path.Combine(root, "esc.pid"));
            pids.Add(escapee);
            // The escapee left its session: the agent (a subreaper) adopts it and notes it in its ledger, once a second.
            await Eventually.UntilAsync(() => ProcFs.TryRead(escapee, out var stat) && stat.ParentPid == first.Pid, Bound, "the agent to adopt the escapee", Ct);
            if (File.Exists(Path.Combine(stateDir, "children")))
            {
                await Eventually.UntilAsync(() => Ledger(stateDir).Contains(escapee), Bound, "the adopted escapee to be recorded", Ct);
            }

            await KillAsync(first);
            pids.Where(ProcFs.IsAlive).Should().NotBeEmpty("without a new agent nothing stops them");
            second = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);

            await Eventually.UntilAsync(() => pids.Where(ProcFs.IsAlive).ToList(), alive => alive.Count == 0, Bound,
                "every process of the killed agent to be gone", Ct);
            (await second.Client.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        }
        finally
        {
            foreach (var pid in pids)
            {
                Posix.Kill(pid, Posix.SIGKILL);
            }

            await DisposeAsync(second, first);
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_child_the_killed_agent_never_recorded_is_still_stopped_by_the_next_agent()
    {
        // A kill -9 between posix_spawn and the ledger line leaves a child unrecorded (the reliability suite hit it).
        // Simulated exactly: the agent is killed, then its ledger loses every pid line; the child's mark remains.
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-unrecorded-").FullName;
        var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
        AgentProcess? second = null;
        var pid = 0;
        try
        {
            var command = await first.Client.PostJsonAsync("/run/command", """{"command":"echo $$ > unrecorded.pid; exec sleep 303","background":true}""", Ct);
            command.ShouldHaveStatus(200);
            pid = await PidFileAsync(Path.Combine(first.Root, "unrecorded.pid"));
            await KillAsync(first);

            var ledger = Path.Combine(stateDir, "children");
            File.WriteAllLines(ledger, File.ReadAllLines(ledger).Where(line => !char.IsAsciiDigit(line.FirstOrDefault())));
            ProcFs.IsAlive(pid).Should().BeTrue("nothing has stopped the child yet");
            second = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);

            await Eventually.UntilAsync(() => ProcFs.IsAlive(pid), alive => !alive, Bound, "the unrecorded child of the killed agent to be gone", Ct);
        }
        finally
        {
            if (pid > 0)
            {
                Posix.Kill(pid, Posix.SIGKILL);
            }

            await DisposeAsync(second, first);
            Directory.Delete(stateDir, recursive: true);
        }
    }

    private static async Task KillAsync(AgentProcess agent)
    {
        Posix.Kill(agent.Pid, Posix.SIGKILL).Should().BeTrue();
        await Eventually.UntilAsync(() => agent.HasExited, Bound, "the agent to die", Ct);
    }

    private static async Task DisposeAsync(AgentProcess? second, AgentProcess first)
    {
        if (second is not null)
        {
            await second.DisposeAsync();
        }

        try
        {
            await first.DisposeAsync();
        }
        catch (InvalidOperationException)
        {
            // It was SIGKILLed on purpose, so its exit code is not 0.
        }
    }

    private static Task<int> PidFileAsync(string path) =>
        Eventually.UntilAsync(() => File.Exists(path) && File.ReadAllText(path).EndsWith('\n') ? int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture) : 0,
            pid => pid > 0, Bound, path, Ct);

    private static HashSet<int> Ledger(string stateDir)
    {
        var path = Path.Combine(stateDir, "children");
        return File.Exists(path)
            ? [.. File.ReadAllLines(path).Select(l => l.Split(' ')[0]).Select(p => int.TryParse(p, CultureInfo.InvariantCulture, out var pid) ? pid : 0)]
            : [];
    }

    private static List<int> ChildrenOf(int pid)
    {
        var result = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    result.AddRange(File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries)
                        .Select(p => int.Parse(p, CultureInfo.InvariantCulture)));
                }
                catch (IOException)
                {
                    // the thread ended meanwhile
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // gone
        }

        return [.. result.Where(ProcFs.IsAlive)];
    }

    /// <summary>The processes holding a TCP socket that listens on <paramref name="port"/> (any address, v4 or v6).</summary>
    private static List<int> ListenersOf(int port)
    {
        var inodes = new HashSet<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 9 && f[3] == "0A" && int.Parse(f[1][(f[1].LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    inodes.Add($"socket:[{f[9]}]");
                }
            }
        }

        var holders = new SortedSet<int>();
        foreach (var process in ProcFs.All())
        {
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{process.Pid}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                    {
                        holders.Add(process.Pid);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not ours to look at
            }
        }

        return [.. holders];
    }
}
