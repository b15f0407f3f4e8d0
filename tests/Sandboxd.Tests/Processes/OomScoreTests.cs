using System.Globalization;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Processes;

/// <summary>
/// Under memory pressure the OOM killer must take the workload, not the agent (and with it every terminal and
/// server): every child of the agent — command, PTY shell, server — runs with oom_score_adj 500 (or the agent's own
/// when that is higher), inherited by its descendants; the agent's own score is left as it was.
/// </summary>
public sealed class OomScoreTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int Read(string path) => int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);

    /// <summary>What the agent inherited from this test process, and so what it keeps.</summary>
    private static int Inherited => Read("/proc/self/oom_score_adj");

    private static string Expected => Math.Max(500, Inherited).ToString(CultureInfo.InvariantCulture);

    [Fact(Timeout = 60_000)]
    public async Task Commands_and_their_descendants_are_preferred_by_the_oom_killer_and_the_agent_keeps_its_score()
    {
        var result = await Agent.Client.RunAsync("cat /proc/$$/oom_score_adj; sh -c 'cat /proc/$$/oom_score_adj'", Ct);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().Be($"{Expected}\n{Expected}\n");
        Read($"/proc/{Agent.Pid}/oom_score_adj").Should().Be(Inherited);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pty_shells_and_servers_get_the_same_score()
    {
        var id = await LiveApi.CreatePtyAsync(Agent.Client, Ct, ",\"shell\":\"/bin/sh\"");
        await using (var socket = await LiveSocket.ConnectAsync(Agent, Ct))
        {
            await socket.SubscribeAsync("terminal:" + id, Ct);
            await socket.InputAsync(id, "echo score=$(cat /proc/$$/oom_score_adj)=\n", Ct);
            await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains($"score={Expected}=", StringComparison.Ordinal),
                LiveApi.Quick, "the PTY shell's score", Ct);
        }

        await LiveApi.DeleteTerminalQuietlyAsync(Agent.Client, id);

        var slug = Slug("oom");
        await StartAsync(Agent.Client, new JsonObject { ["slug"] = slug, ["start"] = "echo score=$(cat /proc/$$/oom_score_adj)=; exec sleep 60", ["stop_timeout_ms"] = 1000 }, Ct);
        await Eventually.UntilAsync(() => LogsAsync(Agent.Client, slug, null, Ct), logs => logs.Contains($"score={Expected}=", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the server's score in its log", Ct);
        (await Agent.Client.DeleteAsync("/servers/" + slug, Ct)).Code.Should().BeOneOf(200, 204);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_child_that_reads_its_score_as_its_first_action_sees_it_every_time()
    {
        // The score is inherited at spawn (issue 13 #12a): it used to be written just after posix_spawn returned, and a
        // child that looked at once — on a busy machine — saw the agent's. Many small children, several at a time.
        const int Runs = 240;
        const int Parallel = 8;
        var seen = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, Parallel).Select(async _ =>
        {
            for (var i = 0; i < Runs / Parallel; i++)
            {
                var result = await Agent.Client.RunAsync("read s < /proc/self/oom_score_adj; echo $s", Ct);
                seen.Add(result.Stdout.Trim());
            }
        }));

        seen.Should().HaveCount(Runs);
        seen.Where(s => s != Expected).Should().BeEmpty($"every child starts with {Expected}");
        // Spawns overlap (ADR 0018): the first in flight raises the agent's score, the last one out lowers it back.
        Read($"/proc/{Agent.Pid}/oom_score_adj").Should().Be(Inherited, "the agent's own score is restored once no spawn is in flight");
    }
}
