using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;

namespace Sandboxd.Reliability;

/// <summary>
/// 10,000 commands and 1,000 terminals (created, used, closed) against one agent: its descriptor count and resident
/// memory after the warm-up and at the end stay within stated bounds (a leak of one fd or a few KiB per command or
/// terminal shows up as thousands of fds or tens of MiB).
/// </summary>
public sealed class LoopTests(ITestOutputHelper output)
{
    private const int Commands = 10_000;
    private const int Terminals = 1_000;
    private const int WarmUpCommands = 1_000;
    private const int WarmUpTerminals = 100;
    /// <summary>Every 4th terminal is a PTY driven over the WebSocket; the others are exec terminals.</summary>
    private const int PtyEvery = 4;
    private const int Parallel = 4;
    /// <summary>Bounds: descriptors may differ by a handful (sockets of the pool, timers); RSS may grow by the GC's slack.</summary>
    private const int FdSlack = 16;
    private const long RssSlackKiB = 32 * 1024;

    // Generous: about 60-90 s on a quiet 2-core machine, several times that under CI load.
    [Fact(Timeout = 480_000)]
    public async Task Ten_thousand_commands_and_a_thousand_terminals_leave_fds_and_RSS_flat()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        await using var socket = await LiveSocket.ConnectAsync(agent, ct);
        var clock = Stopwatch.StartNew();

        await RunCommandsAsync(agent, 0, WarmUpCommands, ct);
        await RunTerminalsAsync(agent, socket, 0, WarmUpTerminals, ct);
        var warm = await SettledAsync(agent, ct);
        var warmAt = clock.Elapsed;

        await RunCommandsAsync(agent, WarmUpCommands, Commands, ct);
        var commandsDone = clock.Elapsed;
        await RunTerminalsAsync(agent, socket, WarmUpTerminals, Terminals, ct);
        var end = await SettledAsync(agent, ct);

        Figures.Record("loop", $"{Commands} commands + {Terminals} terminals ({Terminals / PtyEvery} PTY) in {clock.Elapsed.TotalSeconds:0.0} s " +
            $"(commands {(Commands - WarmUpCommands) / (commandsDone - warmAt).TotalSeconds:0} /s after warm-up)", output);
        Figures.Record("loop", $"after warm-up ({WarmUpCommands} commands, {WarmUpTerminals} terminals): {warm}", output);
        Figures.Record("loop", $"at the end: {end}; bound: fds +{FdSlack}, RSS +{RssSlackKiB / 1024} MiB", output);

        end.Fds.Should().BeLessThanOrEqualTo(warm.Fds + FdSlack, "descriptors stay flat over {0} commands and {1} terminals", Commands, Terminals);
        end.RssKiB.Should().BeLessThanOrEqualTo(warm.RssKiB + RssSlackKiB, "resident memory stays flat");
        (await agent.Client.GetAsync("/terminals", ct)).Data.GetProperty("terminals").EnumerateArray()
            .Count(t => t.GetProperty("pty").GetBoolean()).Should().Be(0, "every PTY terminal was closed");
    }

    /// <summary>The figures once the agent is idle: closed PTYs are reaped within a couple of seconds (SIGHUP, then SIGKILL).</summary>
    private static async Task<ProcessFigures> SettledAsync(AgentProcess agent, CancellationToken ct)
    {
        // Wait until two samples 500 ms apart agree on the fd count (bounded), then take the figures.
        var previous = ProcessFigures.Of(agent.Pid);
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(500, ct);
            var now = ProcessFigures.Of(agent.Pid);
            if (now.Fds == previous.Fds)
            {
                return now;
            }

            previous = now;
        }

        return previous;
    }

    private static async Task RunCommandsAsync(AgentProcess agent, int from, int to, CancellationToken ct)
    {
        var next = from - 1;
        var workers = Enumerable.Range(0, Parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < to)
            {
                var body = "{\"command\":\"echo c-" + i + "\"}";
                var response = await agent.Client.PostJsonAsync("/run/command", body, ct);
                response.Code.Should().Be(200, response.Describe());
                response.Data.GetProperty("stdout").GetString().Should().Be($"c-{i}\n");
            }
        });
        await Task.WhenAll(workers);
    }

    private static async Task RunTerminalsAsync(AgentProcess agent, LiveSocket socket, int from, int to, CancellationToken ct)
    {
        var next = from - 1;
        var workers = Enumerable.Range(0, Parallel).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < to)
            {
                if (i % PtyEvery == 0)
                {
                    await PtyAsync(agent, socket, i, ct);
                }
                else
                {
                    await ExecTerminalAsync(agent, i, ct);
                }
            }
        });
        await Task.WhenAll(workers);
    }

    private static async Task ExecTerminalAsync(AgentProcess agent, int i, CancellationToken ct)
    {
        var created = await agent.Client.PostJsonAsync("/terminals", "{\"pty\":false}", ct);
        created.Code.Should().BeOneOf([200, 201], created.Describe());
        var id = created.Data.GetProperty("id").GetString()!;
        var run = await agent.Client.PostJsonAsync($"/terminals/{id}/execute", "{\"command\":\"echo t-" + i + "\"}", ct);
        run.Code.Should().Be(200, run.Describe());
        run.Data.GetProperty("stdout").GetString().Should().Be($"t-{i}\n");
        var deleted = await agent.Client.DeleteAsync($"/terminals/{id}", ct);
        deleted.Code.Should().Be(204, deleted.Describe());
    }

    private static async Task PtyAsync(AgentProcess agent, LiveSocket socket, int i, CancellationToken ct)
    {
        var id = await LiveApi.CreatePtyAsync(agent.Client, ct);
        var channel = "terminal:" + id;
        var from = socket.Count;
        await socket.SubscribeAsync(channel, ct);
        // The shell prints the sum, which the echoed input line does not contain.
        await socket.InputAsync(id, $"echo $(({i} + 7000000))\n", ct);
        var expected = (i + 7_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await socket.WaitOutputAsync("terminal:output", channel, text => text.Contains(expected, StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), $"PTY {id} to answer", ct, from);
        var deleted = await agent.Client.DeleteAsync($"/terminals/{id}", ct);
        deleted.Code.Should().Be(204, deleted.Describe());
        await socket.UnsubscribeAsync(channel, ct);
    }
}
