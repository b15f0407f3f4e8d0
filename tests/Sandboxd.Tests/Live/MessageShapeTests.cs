using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>
/// The exact text of the agent's live messages. The agent writes them from the client's typed records
/// (client/Protocol/Live.cs); these tests pin the bytes, field order included, that agents wrote before the records
/// existed, so a change to a record that alters the wire fails here and not in a user's parser.
/// </summary>
public sealed partial class MessageShapeTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Command_output_and_exit_frames_have_the_exact_text_of_the_protocol()
    {
        var ct = TestContext.Current.CancellationToken;
        var (cmdId, channel, terminalId) = await LiveApi.PendingCommandWithTerminalAsync(fixture.Client, "printf 'a\"<\\n'; printf e >&2; exit 3", ct);
        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct);
        await socket.SubscribeAsync(channel, ct);
        await socket.StartCommandAsync(cmdId, ct);
        await socket.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);

        var ids = $"\"terminal_id\":\"{terminalId}\",\"cmd_id\":\"{cmdId}\"";
        socket.Frames.Single(f => f.Is("command:stdout")).Text.Should().Be(
            $"{{\"type\":\"command:stdout\",\"channel\":\"{channel}\",\"data\":{{{ids},\"output\":\"a\\u0022\\u003C\\n\",\"next_offset\":4}}}}");
        socket.Frames.Single(f => f.Is("command:stderr")).Text.Should().Be(
            $"{{\"type\":\"command:stderr\",\"channel\":\"{channel}\",\"data\":{{{ids},\"output\":\"e\",\"next_offset\":1}}}}");
        socket.Frames.Single(f => f.Is("command:exit")).Text.Should().Be(
            $"{{\"type\":\"command:exit\",\"channel\":\"{channel}\",\"data\":{{{ids},\"exit_code\":3,\"reason\":\"exit\"}}}}");
    }

    [Fact(Timeout = 60_000)]
    public async Task Terminal_frames_have_the_exact_text_of_the_protocol()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct);
        var id = await LiveApi.CreatePtyAsync(fixture.Client, ct, ""","encoding":"base64" """);
        var channel = "terminal:" + id;
        (await socket.WaitForAsync("terminal:created", channel, LiveApi.Quick, ct)).Text.Should().Be(
            $"{{\"type\":\"terminal:created\",\"channel\":\"{channel}\",\"data\":{{\"id\":\"{id}\",\"status\":\"running\"}}}}");
        await socket.SubscribeAsync(channel, ct);
        await socket.InputAsync(id, "exit 0\n", ct);
        await socket.WaitForAsync("terminal:destroyed", channel, LiveApi.Quick, ct);
        socket.Frames.Where(f => f.Is("terminal:output", channel)).Should().NotBeEmpty().And.AllSatisfy(f =>
            OutputShape().IsMatch(f.Text).Should().BeTrue(f.Text));
        socket.Frames.Single(f => f.Is("terminal:destroyed")).Text.Should().Be(
            $"{{\"type\":\"terminal:destroyed\",\"channel\":\"{channel}\",\"data\":{{\"id\":\"{id}\",\"exit_code\":0}}}}");
        await socket.SubscribeAsync("terminal:term_missing", ct);
        await socket.InputAsync("term_missing", "x", ct);
        (await socket.WaitForAsync("terminal:error", "terminal:term_missing", LiveApi.Quick, ct)).Text.Should().Be(
            """{"type":"terminal:error","channel":"terminal:term_missing","data":{"error":"Terminal term_missing not found."}}""");
    }

    /// <summary>terminal:output of a base64 terminal: output, encoding, next_offset, in that order.</summary>
    [GeneratedRegex("""^\{"type":"terminal:output","channel":"terminal:[^"]+","data":\{"output":"[A-Za-z0-9+/=]+","encoding":"base64","next_offset":[0-9]+\}\}$""")]
    private static partial Regex OutputShape();
}
