using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Processes;

/// <summary>Whatever a command leaves behind, the agent reaps: it never accumulates zombie children (it may be PID 1).</summary>
public sealed class ZombieTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan ReapDeadline = TimeSpan.FromSeconds(15);

    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 60_000)]
    public async Task Grandchildren_that_outlive_their_shell_are_reaped()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await Agent.Client.RunAsync("sleep 0.2 & echo $!; sleep 0.3 & echo $!; echo spawned", ct);

        result.ExitCode.Should().Be(0);
        var pids = ProcFs.ParsePids(result.Stdout.Replace("spawned", "", StringComparison.Ordinal));
        await ShouldBeReapedAsync(pids, ct);
        await ShouldHaveNoZombieChildrenAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_double_forked_daemon_is_reparented_to_the_agent_and_reaped()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await Agent.Client.RunAsync("( (sleep 1; exit 0) & echo $! ) ; echo ok", ct);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().EndWith("ok\n");
        var daemon = ProcFs.ParsePids(result.Stdout.Replace("ok", "", StringComparison.Ordinal)).Should().ContainSingle().Subject;
        if (ProcFs.TryRead(daemon, out var stat) && stat.State != 'Z')
        {
            stat.ParentPid.Should().Be(Agent.Pid, "the agent is a child subreaper, so orphans are re-parented to it");
        }

        await ShouldBeReapedAsync([daemon], ct);
        await ShouldHaveNoZombieChildrenAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Many_short_commands_leave_no_zombies()
    {
        var ct = TestContext.Current.CancellationToken;

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Agent.Client.RunAsync($"true & echo {i}", ct)));

        await ShouldHaveNoZombieChildrenAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_command_killed_by_its_timeout_leaves_no_zombies()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await Agent.Client.RunAsync(new Sandboxd.Protocol.RunCommandRequest("sleep 300 & sleep 300 & wait", TimeoutMs: 300), ct);

        result.TimedOut.Should().BeTrue();
        await ShouldHaveNoZombieChildrenAsync(ct);
    }

    /// <summary>The pids must leave the process table entirely: dead and waited for (by the agent, their new parent).</summary>
    private static async Task ShouldBeReapedAsync(IReadOnlyList<int> pids, CancellationToken ct) =>
        await Eventually.UntilAsync(
            () => pids.Where(ProcFs.Exists).Select(p => ProcFs.TryRead(p, out var s) ? $"{p}:{s.State}:ppid={s.ParentPid}" : $"{p}:?").ToList(),
            left => left.Count == 0,
            ReapDeadline,
            $"processes {string.Join(' ', pids)} to exit and be reaped",
            ct);

    private async Task ShouldHaveNoZombieChildrenAsync(CancellationToken ct) =>
        await Eventually.UntilAsync(
            () => ProcFs.ZombieChildrenOf(Agent.Pid),
            zombies => zombies.Count == 0,
            ReapDeadline,
            $"the agent (pid {Agent.Pid}) to have no zombie children",
            ct);
}
