using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>
/// JSON text frames whose strings are not text (an escaped lone surrogate) (found by the
/// reliability suite's fuzzer): the agent ended the whole socket with an unhandled error. Such a frame is ignored like
/// any other malformed one, and the socket keeps working.
/// </summary>
public sealed class InvalidTextFrameTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Theory(Timeout = 30_000)]
    [InlineData("""{"type":"terminal:input","data":{"terminal_id":"t","input":"\ud800"}}""")]
    [InlineData("""{"type":"terminal:input","data":{"terminal_id":"t","input":"\udfff\ud800"}}""")]
    [InlineData("""{"type":"subscribe","channel":"x","data":{"\ud800":1}}""")]
    public async Task A_frame_with_a_lone_surrogate_is_ignored_and_the_socket_keeps_working(string frame)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SendTextAsync(frame, ct);

        var (cmdId, channel) = await LiveApi.PendingCommandAsync(Agent.Client, "echo still-here", ct);
        await socket.SubscribeAsync(channel, ct);
        await socket.StartCommandAsync(cmdId, ct);
        await socket.WaitForAsync("command:exit", channel, TimeSpan.FromSeconds(15), ct);
        socket.Output("command:stdout", channel).Should().Be("still-here\n");
        socket.Closed.Should().BeFalse();
        Agent.Stderr.Should().NotContain("Unhandled error in GET /ws");
    }
}
