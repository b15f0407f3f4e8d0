using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Sandboxd.Servers;
using Sandboxd.Terminals;

namespace Sandboxd.Tests.Time;

/// <summary>
/// In-process unit tests of the agent's time logic, driven by a <see cref="FakeTimeProvider"/> instead of waiting:
/// the expiry of never-started streamed commands, command durations, and the restart backoff's wait.
/// </summary>
public sealed class TimeLogicTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CommandRecord Pending(FakeTimeProvider time) =>
        new("term_test", new ExecSpec("true", "/bin/sh", "/", null, null), 1024, time);

    [Fact]
    public void A_streamed_command_never_started_is_discarded_only_after_its_pending_lifetime()
    {
        var time = new FakeTimeProvider(Start);
        var registry = new TerminalRegistry();
        var record = Pending(time);
        registry.Commands[record.CmdId] = record;

        time.Advance(CommandExecutor.PendingLifetime - TimeSpan.FromMilliseconds(1));
        CommandExecutor.DiscardStalePending(registry, time);
        registry.Commands.Should().ContainKey(record.CmdId, "its lifetime has not run out");
        record.IsPending.Should().BeTrue();

        time.Advance(TimeSpan.FromMilliseconds(2));
        CommandExecutor.DiscardStalePending(registry, time);
        registry.Commands.Should().NotContainKey(record.CmdId);
        record.Completed.IsCompleted.Should().BeTrue("whoever waits on a discarded command is released");
        record.Exit!.Value.ExitCode.Should().Be(125);
    }

    [Fact]
    public void A_started_command_is_never_discarded_as_stale()
    {
        var time = new FakeTimeProvider(Start);
        var registry = new TerminalRegistry();
        var record = Pending(time);
        registry.Commands[record.CmdId] = record;
        record.TryMarkStarted().Should().BeTrue();

        time.Advance(TimeSpan.FromHours(1));
        CommandExecutor.DiscardStalePending(registry, time);

        registry.Commands.Should().ContainKey(record.CmdId);
        record.Completed.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public void A_command_duration_is_measured_on_the_agent_clock()
    {
        var time = new FakeTimeProvider(Start);
        var record = Pending(time);
        record.TryMarkStarted();

        time.Advance(TimeSpan.FromMilliseconds(1500));
        record.Finish(new Sandboxd.Processes.ExitStatus(0, null), timedOut: false);

        record.DurationMs.Should().Be(1500);
        record.CreatedAt.Should().Be(Start.UtcDateTime);
    }

    [Fact]
    public void The_restart_backoff_doubles_per_quick_crash_within_its_jitter_and_is_capped()
    {
        var delay = TimeSpan.FromSeconds(1);
        ServerSupervisor.Backoff(delay, 1).Should().Be(delay, "the first restart waits exactly the configured delay");
        for (var crashes = 2; crashes <= 12; crashes++)
        {
            var expected = Math.Min(delay.TotalMilliseconds * Math.Pow(2, crashes - 1), ServerSupervisor.MaxBackoff.TotalMilliseconds);
            ServerSupervisor.Backoff(delay, crashes).TotalMilliseconds.Should().BeInRange(expected * 0.9, expected * 1.1, $"after {crashes} quick crashes");
        }
    }

    [Fact]
    public async Task A_delay_on_the_agent_clock_ends_when_the_clock_moves_not_before()
    {
        // The shape every backoff, health-check interval and fold window now has: Task.Delay(wait, time, token).
        var time = new FakeTimeProvider(Start);
        var wait = ServerSupervisor.Backoff(TimeSpan.FromSeconds(1), 3);
        var delay = Task.Delay(wait, time, TestContext.Current.CancellationToken);

        time.Advance(wait - TimeSpan.FromMilliseconds(1));
        delay.IsCompleted.Should().BeFalse();
        time.Advance(TimeSpan.FromMilliseconds(1));
        await delay.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }
}
