using System.Text;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>Socket loss mid-stream: streams survive and a resubscription resumes without gap or duplicate.</summary>
public sealed class ReconnectTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private const int Lines = 150;
    private const string Numbered = "i=1; while [ $i -le 150 ]; do echo $i; i=$((i+1)); sleep 0.02; done";
    private static readonly string Expected = string.Concat(Enumerable.Range(1, Lines).Select(i => i + "\n"));

    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private static string Describe(string text)
    {
        var numbers = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var problems = new StringBuilder();
        for (var i = 0; i < numbers.Length; i++)
        {
            if (numbers[i] != (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                problems.Append($"line {i + 1} is '{numbers[i]}'; ");
                break;
            }
        }

        return $"{numbers.Length} lines; {problems}";
    }

    /// <summary>Starts the numbered command on a first socket and closes it after line 30; returns what it received.</summary>
    private async Task<(string Channel, LiveSocket First)> StartAndDropAsync(CancellationToken ct)
    {
        var (cmdId, channel) = await LiveApi.PendingCommandAsync(Client, Numbered, ct);
        var first = await LiveSocket.ConnectAsync(Agent, ct);
        await first.SubscribeAsync(channel, ct);
        await first.StartCommandAsync(cmdId, ct);
        await first.WaitOutputAsync("command:stdout", channel, o => o.Contains("\n30\n", StringComparison.Ordinal), LiveApi.Quick, "line 30", ct);
        await first.CloseAsync(ct);
        first.Frames.Should().NotContain(f => f.Is("command:exit"), "the socket must be dropped mid-stream for this test to mean anything");
        return (channel, first);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resubscription_without_offset_after_reconnect_continues_where_the_last_delivery_ended()
    {
        var ct = TestContext.Current.CancellationToken;
        var (channel, first) = await StartAndDropAsync(ct);
        await using var _ = first;
        var before = first.Output("command:stdout", channel);

        await using var second = await LiveSocket.ConnectAsync(Agent, ct);
        await second.SubscribeAsync(channel, ct);
        var exit = await second.WaitForAsync("command:exit", channel, TimeSpan.FromSeconds(30), ct);

        exit.Num("exit_code").Should().Be(0);
        var after = second.Output("command:stdout", channel);
        var all = before + after;
        all.Should().Be(Expected, $"first socket: {Describe(before)} second socket starts '{after[..Math.Min(20, after.Length)]}'; combined {Describe(all)}");
        second.Frames.Should().NotContain(f => f.Is("output:lost"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resubscription_with_the_last_next_offset_resumes_exactly_there()
    {
        var ct = TestContext.Current.CancellationToken;
        var (channel, first) = await StartAndDropAsync(ct);
        await using var _ = first;
        var before = first.Output("command:stdout", channel);
        var next = first.Frames.Last(f => f.Is("command:stdout", channel)).Num("next_offset");
        next.Should().Be(Encoding.UTF8.GetByteCount(before), "next_offset counts the stream's bytes delivered so far");

        await using var second = await LiveSocket.ConnectAsync(Agent, ct, "binary");
        await second.SubscribeAsync(channel, ct, $$"""{"stdout_offset":{{next}},"stderr_offset":0}""");
        await second.WaitForAsync("command:exit", channel, TimeSpan.FromSeconds(30), ct);

        var all = before + second.Output("command:stdout", channel);
        all.Should().Be(Expected, Describe(all));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resubscription_with_offset_zero_replays_the_whole_stream()
    {
        var ct = TestContext.Current.CancellationToken;
        var (channel, first) = await StartAndDropAsync(ct);
        await using var _ = first;

        await using var second = await LiveSocket.ConnectAsync(Agent, ct);
        await second.SubscribeAsync(channel, ct, """{"stdout_offset":0}""");
        await second.WaitForAsync("command:exit", channel, TimeSpan.FromSeconds(30), ct);

        second.Output("command:stdout", channel).Should().Be(Expected);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_pty_subscription_with_offset_zero_after_reconnect_replays_the_scrollback()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        var channel = "terminal:" + id;
        string before;
        await using (var first = await LiveSocket.ConnectAsync(Agent, ct))
        {
            await first.SubscribeAsync(channel, ct);
            await first.InputAsync(id, "echo marker-$((3*3))\n", ct);
            before = await first.WaitOutputAsync("terminal:output", channel, o => o.Contains("marker-9", StringComparison.Ordinal), LiveApi.Quick, "marker-9", ct);
            await first.CloseAsync(ct);
        }

        await using var second = await LiveSocket.ConnectAsync(Agent, ct);
        await second.SubscribeAsync(channel, ct, """{"offset":0}""");
        var replay = await second.WaitOutputAsync("terminal:output", channel, o => o.Length >= before.Length, LiveApi.Quick, "the replayed scrollback", ct);

        replay.Should().StartWith(before);
        await second.InputAsync(id, "echo live-$((4*4))\n", ct);
        await second.WaitOutputAsync("terminal:output", channel, o => o.Contains("live-16", StringComparison.Ordinal), LiveApi.Quick, "live output after the replay", ct);
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_command_keeps_running_while_no_socket_is_connected_and_a_late_subscriber_gets_all_of_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var (cmdId, channel, terminalId) = await LiveApi.PendingCommandWithTerminalAsync(Client, "seq 1 5000", ct);
        await using (var starter = await LiveSocket.ConnectAsync(Agent, ct))
        {
            await starter.StartCommandAsync(cmdId, ct);
            await LiveApi.WaitCommandFinishedAsync(Client, terminalId, cmdId, TimeSpan.FromSeconds(20), ct);
        }

        await using var late = await LiveSocket.ConnectAsync(Agent, ct);
        await late.SubscribeAsync(channel, ct);
        await late.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);

        late.Output("command:stdout", channel).Should().Be(string.Concat(Enumerable.Range(1, 5000).Select(i => i + "\n")));
    }
}
