using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>An agent that keeps only 4 KiB of each output stream.</summary>
public sealed class TinyOutputCapAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--output-cap", "4096");
}

/// <summary>Evicted output is reported with <c>output:lost</c>, never skipped silently, and the exit still arrives.</summary>
public sealed class OutputLostTests(TinyOutputCapAgentFixture fixture) : IClassFixture<TinyOutputCapAgentFixture>
{
    private const string Flood = "head -c 100000 /dev/zero | tr '\\0' a; echo; echo done-marker";

    private async Task<(string Channel, string CmdId)> RunUnwatchedAsync(CancellationToken ct)
    {
        var (cmdId, channel, terminalId) = await LiveApi.PendingCommandWithTerminalAsync(fixture.Client, Flood, ct);
        await using (var starter = await LiveSocket.ConnectAsync(fixture.Agent, ct))
        {
            await starter.StartCommandAsync(cmdId, ct); // started on a socket that never subscribes
            await LiveApi.WaitCommandFinishedAsync(fixture.Client, terminalId, cmdId, TimeSpan.FromSeconds(20), ct);
        }

        return (channel, cmdId);
    }

    private static void ShouldReportLossFirst(LiveSocket socket, string channel)
    {
        var frames = socket.Frames.Where(f => f.Channel == channel).ToList();
        frames.Should().NotBeEmpty();
        var lost = frames[0];
        lost.Type.Should().Be("output:lost", "the loss is reported before the rest of the output: " + string.Join("\n", frames.Take(3)));
        lost.Str("stream").Should().Be("stdout");
        lost.Num("lost_bytes").Should().BePositive();
        lost.Num("first_available").Should().Be(lost.Num("lost_bytes"), "everything before the first available byte was lost");
        frames[^1].Type.Should().Be("command:exit");
        frames[^1].Num("exit_code").Should().Be(0);
        var output = socket.Output("command:stdout", channel);
        output.Should().EndWith("\ndone-marker\n");
        output.Length.Should().BeLessThanOrEqualTo(4096);
        (lost.Num("lost_bytes")! + output.Length).Should().Be(100_000 + "\ndone-marker\n".Length);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_late_subscriber_with_offset_zero_gets_output_lost_before_the_kept_tail_and_then_the_exit()
    {
        var ct = TestContext.Current.CancellationToken;
        var (channel, _) = await RunUnwatchedAsync(ct);

        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct);
        await socket.SubscribeAsync(channel, ct, """{"stdout_offset":0,"stderr_offset":0}""");
        await socket.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);

        ShouldReportLossFirst(socket, channel);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_late_subscriber_without_offset_also_learns_what_was_lost_while_nobody_was_subscribed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (channel, _) = await RunUnwatchedAsync(ct);

        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct, "binary");
        await socket.SubscribeAsync(channel, ct);
        await socket.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);

        ShouldReportLossFirst(socket, channel);
    }
}
