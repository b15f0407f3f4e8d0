using System.Diagnostics;
using System.Globalization;
using System.Text;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;

namespace Sandboxd.Reliability;

/// <summary>
/// A subscriber that never reads (its TCP window fills) shares a chatty command's channel with one that reads: the
/// reader still gets every byte of the output, promptly. A peer's daemon wedged for 15 minutes on exactly this.
/// </summary>
public sealed class SlowSubscriberTests(ITestOutputHelper output)
{
    /// <summary><c>seq 1 N</c>: about 14.9 MB of output, many times what the kernel buffers for the stalled socket.</summary>
    private const int Lines = 2_000_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact(Timeout = 150_000)]
    public async Task A_subscriber_that_never_reads_does_not_stall_the_one_that_does()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        var expectedLength = ExpectedLength(Lines);
        var (cmdId, channel) = await LiveApi.PendingCommandAsync(agent.Client, $"seq 1 {Lines}", ct);

        await using var stalled = await LiveSocket.ConnectAsync(agent, ct, "json", read: false);
        await using var reader = await LiveSocket.ConnectAsync(agent, ct);
        await stalled.SubscribeAsync(channel, ct);
        await reader.SubscribeAsync(channel, ct);
        // The reader's own command:start follows its subscribe on the same socket, so it is subscribed from the first
        // byte. The stalled socket subscribed first; whenever the agent handles that, ~16 MB remain to fill its window.
        var clock = Stopwatch.StartNew();
        await reader.StartCommandAsync(cmdId, ct);
        await reader.WaitForAsync("command:exit", channel, Bound, ct);
        var elapsed = clock.Elapsed;

        var text = reader.Output("command:stdout", channel);
        Figures.Record("subscriber", $"reader got {text.Length / 1e6:0.0} MB of `seq 1 {Lines}` in {elapsed.TotalSeconds:0.0} s " +
            $"({text.Length / 1e6 / elapsed.TotalSeconds:0.0} MB/s) while a second subscriber on the channel read nothing; bound {Bound.TotalSeconds:0} s", output);
        text.Length.Should().Be(expectedLength, "the reader gets all of the output, not what the stalled socket let through");
        text.Should().EndWith($"\n{Lines}\n");
        var sample = text.AsSpan(0, 20).ToString();
        sample.Should().StartWith("1\n2\n3\n");

        // The agent still answers everybody else at once.
        var health = Stopwatch.StartNew();
        (await agent.Client.GetAsync("/health", ct)).Code.Should().Be(200);
        health.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));
    }

    private static int ExpectedLength(int lines)
    {
        var length = 0;
        for (var i = 1; i <= lines; i++)
        {
            length += i.ToString(CultureInfo.InvariantCulture).Length + 1;
        }

        return length;
    }
}
