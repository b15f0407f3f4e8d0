using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>Client → daemon binary frames (daemon-websocket.md §4 / §4.1), byte-exact, over a real ClientWebSocket.</summary>
public sealed class BinaryFrameTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private const string SubscribeExample = "01 00 0f 74 65 72 6d 69 6e 61 6c 3a 74 65 72 6d 5f 31 00 09 73 75 62 73 63 72 69 62 65 00 00 00 02 00 00";
    private const string InputExample = "03 00 00 00 0e 74 65 72 6d 69 6e 61 6c 3a 69 6e 70 75 74 00 00 00 29 00 02 00 0b 74 65 72 6d 69 6e 61 6c 5f 69 64 01 00 00 00 06 74 65 72 6d 5f 31 00 05 69 6e 70 75 74 01 00 00 00 03 6c 73 0a";
    private const string ResizeExample = "03 00 00 00 0f 74 65 72 6d 69 6e 61 6c 3a 72 65 73 69 7a 65 00 00 00 40 00 03 00 0b 74 65 72 6d 69 6e 61 6c 5f 69 64 01 00 00 00 06 74 65 72 6d 5f 31 00 04 63 6f 6c 73 02 00 00 00 08 40 5e 00 00 00 00 00 00 00 04 72 6f 77 73 02 00 00 00 08 40 44 00 00 00 00 00 00";
    private const string StartExample = "03 00 00 00 0d 63 6f 6d 6d 61 6e 64 3a 73 74 61 72 74 00 00 00 14 00 01 00 06 63 6d 64 5f 69 64 01 00 00 00 05 63 6d 64 5f 31";

    /// <summary>The §4.1 example with its id ("term_1"/"cmd_1", same length fields) replaced by a real one of another length.</summary>
    private static byte[] WithId(string exampleHex, string exampleId, string realId) =>
        exampleId.Length == realId.Length
            ? WireFrames.FromHex(exampleHex.Replace(Convert.ToHexStringLower(System.Text.Encoding.ASCII.GetBytes(exampleId)).Chunk(2).Select(c => new string(c)).Aggregate((a, b) => a + " " + b),
                Convert.ToHexStringLower(System.Text.Encoding.ASCII.GetBytes(realId)).Chunk(2).Select(c => new string(c)).Aggregate((a, b) => a + " " + b), StringComparison.Ordinal))
            : throw new InvalidOperationException("different length");

    [Fact(Timeout = 10_000)]
    public void The_test_encoder_reproduces_the_worked_examples_of_section_4_1_byte_for_byte()
    {
        WireFrames.Subscription("terminal:term_1").Should().Equal(WireFrames.FromHex(SubscribeExample)).And.HaveCount(35);
        WireFrames.TerminalInput("term_1", "ls\n").Should().Equal(WireFrames.FromHex(InputExample)).And.HaveCount(64);
        WireFrames.TerminalResize("term_1", 120, 40).Should().Equal(WireFrames.FromHex(ResizeExample)).And.HaveCount(88);
        WireFrames.CommandStart("cmd_1").Should().Equal(WireFrames.FromHex(StartExample)).And.HaveCount(42);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_binary_subscribe_and_a_binary_terminal_input_reach_the_pty_and_its_output_comes_back_as_json_text()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct, "binary");

        var subscribe = WireFrames.Subscription("terminal:" + id);
        subscribe.Should().HaveCount(35 + id.Length - "term_1".Length);
        await socket.SendBinaryAsync(subscribe, ct);
        var input = WireFrames.TerminalInput(id, "echo bin-$((6*7))\n");
        await socket.SendBinaryAsync(input, ct);

        await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains("bin-42", StringComparison.Ordinal), LiveApi.Quick, "bin-42 from the PTY", ct);
        socket.Frames.Should().OnlyContain(f => !f.Binary, "without --ws-binary-out every daemon message is a JSON text frame");
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_exact_example_frames_with_the_real_id_spliced_in_work_when_the_id_has_the_example_length()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct, "binary");
        if (id.Length != "term_1".Length)
        {
            // The ids are longer than the example's: send the example frames byte-for-byte anyway (to a terminal that does
            // not exist they must be harmless) and then the same layout with the real id.
            await socket.SendBinaryAsync(WireFrames.FromHex(SubscribeExample), ct);
            await socket.SendBinaryAsync(WireFrames.FromHex(InputExample), ct);
            await socket.SendBinaryAsync(WireFrames.FromHex(ResizeExample), ct);
            await socket.SendBinaryAsync(WireFrames.FromHex(StartExample), ct);
            await socket.WaitForAsync("terminal:error", "terminal:term_1", LiveApi.Quick, ct);
            await socket.SendBinaryAsync(WireFrames.Subscription("terminal:" + id), ct);
        }
        else
        {
            await socket.SendBinaryAsync(WithId(SubscribeExample, "term_1", id), ct);
        }

        await socket.SendBinaryAsync(WireFrames.TerminalInput(id, "echo still-$((40+2))\n"), ct);
        await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains("still-42", StringComparison.Ordinal), LiveApi.Quick, "still-42", ct);
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_binary_resize_with_float64_numbers_makes_stty_size_print_40_120()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct, "binary");
        await socket.SendBinaryAsync(WireFrames.Subscription("terminal:" + id), ct);

        var resize = WireFrames.TerminalResize(id, 120, 40);
        resize.Should().HaveCount(88 + id.Length - "term_1".Length);
        await socket.SendBinaryAsync(resize, ct);
        await socket.SendBinaryAsync(WireFrames.TerminalInput(id, "stty size\n"), ct);

        await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains("40 120", StringComparison.Ordinal), LiveApi.Quick, "stty size = 40 120", ct);
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_binary_command_start_starts_the_streamed_command_whose_stdout_and_exit_arrive_as_json_text_frames()
    {
        var ct = TestContext.Current.CancellationToken;
        var (cmdId, channel) = await LiveApi.PendingCommandAsync(Client, "echo streamed-out; echo streamed-err >&2; exit 3", ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct, "binary");

        await socket.SendBinaryAsync(WireFrames.Subscription(channel), ct);
        var start = WireFrames.CommandStart(cmdId);
        start.Should().HaveCount(42 + cmdId.Length - "cmd_1".Length);
        await socket.SendBinaryAsync(start, ct);

        var exit = await socket.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);
        exit.Binary.Should().BeFalse();
        exit.Num("exit_code").Should().Be(3);
        exit.Str("cmd_id").Should().Be(cmdId);
        socket.Output("command:stdout", channel).Should().Be("streamed-out\n");
        socket.Output("command:stderr", channel).Should().Be("streamed-err\n");
        socket.Frames.Where(f => f.Channel == channel).Should().OnlyContain(f => !f.Binary);
        socket.Frames.Last(f => f.Channel == channel).Type.Should().Be("command:exit", "command:exit is the last message of the command");
    }

    [Fact(Timeout = 60_000)]
    public async Task Malformed_and_short_binary_frames_are_ignored_and_the_socket_keeps_working()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct, "binary");
        var good = WireFrames.TerminalInput(id, "echo x\n");

        byte[][] malformed =
        [
            [],
            [0x01],
            [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // 8 bytes: shorter than 9
            [0x01, 0xff, 0xff, 0x61, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00], // channel length overruns
            [.. WireFrames.Subscription("terminal:" + id)[..^4], 0x00, 0x00, 0x10, 0x00, 0x00], // data length overruns
            good[..^5], // truncated input frame
            [.. good[..(good.Length - 3)]], // truncated value
            [0x03, 0x00, 0x00, 0x00, 0x0e, .. "terminal:input"u8, 0x00, 0x00, 0x00, 0x09, 0x00, 0x01, 0x00, 0x01, 0x78, 0x09, 0x00, 0x00, 0x00], // bad value type
            "not a frame at all, just text in a binary frame"u8.ToArray(),
        ];
        foreach (var frame in malformed)
        {
            await socket.SendBinaryAsync(frame, ct);
        }

        await socket.SendTextAsync("{not json", ct);
        await socket.SendTextAsync("""{"type":42}""", ct);

        await socket.SendBinaryAsync(WireFrames.Subscription("terminal:" + id), ct);
        await socket.SendBinaryAsync(WireFrames.TerminalInput(id, "echo alive-$((1+1))\n"), ct);
        await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains("alive-2", StringComparison.Ordinal), LiveApi.Quick, "alive-2 after the junk", ct);
        socket.Closed.Should().BeFalse();
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }
}

/// <summary>An agent started with <c>--ws-binary-out</c>.</summary>
public sealed class BinaryOutAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--ws-binary-out");
}

/// <summary>Daemon → client binary frames (§3.2 policy, §4.2 layout) with <c>--ws-binary-out</c>.</summary>
public sealed class BinaryOutTests(BinaryOutAgentFixture fixture) : IClassFixture<BinaryOutAgentFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task With_ws_binary_out_a_binary_socket_gets_terminal_output_as_binary_frames_that_decode_per_section_4()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(fixture.Client, ct);
        var channel = "terminal:" + id;
        await using var binary = await LiveSocket.ConnectAsync(fixture.Agent, ct, "binary");
        await using var json = await LiveSocket.ConnectAsync(fixture.Agent, ct, "json");
        await binary.WaitForAsync("terminal:created", channel, LiveApi.Quick, ct);

        await binary.SendBinaryAsync(WireFrames.Subscription(channel), ct);
        // From offset 0: the two sockets are independent, so the json subscription may be handled after the echo is
        // out, and a subscriber without an offset joins a channel someone else reads at its live end (seen once in CI).
        await json.SubscribeAsync(channel, ct, """{"offset":0}""");
        await binary.SendBinaryAsync(WireFrames.TerminalInput(id, "echo hi-$((2*3))\n"), ct);

        await binary.WaitForAsync(
            f => f.Binary && WireFrames.Decode(f.Bytes) is { } d && d.Type == "terminal:output" && ((string)d.Data["output"]).Contains("hi-6", StringComparison.Ordinal),
            LiveApi.Quick, "a binary terminal:output containing hi-6", ct);
        var outputs = binary.Frames.Where(f => f.Binary).Select(f => WireFrames.Decode(f.Bytes)).ToList();
        outputs.Should().AllSatisfy(d =>
        {
            d.Kind.Should().Be(0x03);
            d.Channel.Should().Be(channel);
            d.Type.Should().Be("terminal:output");
            d.Data["output"].Should().BeOfType<string>("string fields use value type 0x01");
        });
        binary.Frames.Where(f => !f.Binary).Select(f => f.Type).Should().Contain("terminal:created").And.NotContain("terminal:output");

        // The 58-byte shape of §4.2: with a 6-char id and "hi\r\n" the frame would be exactly that example.
        var one = binary.Frames.First(f => f.Binary).Bytes;
        one[0].Should().Be(0x03);
        one[1..3].Should().Equal([(byte)(channel.Length >> 8), (byte)channel.Length]);

        // Never binary on a json connection.
        await json.WaitOutputAsync("terminal:output", channel, o => o.Contains("hi-6", StringComparison.Ordinal), LiveApi.Quick, "hi-6 as JSON", ct);
        json.Frames.Should().OnlyContain(f => !f.Binary);
        await LiveApi.DeleteTerminalQuietlyAsync(fixture.Client, id);
    }
}
