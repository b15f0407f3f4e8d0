using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>Builds the client → agent frames: JSON text frames, and the one binary frame (byte-exact PTY input).</summary>
internal static class ClientFrames
{
    public static OutgoingFrame Subscribe(string channel, SubscribeData data) =>
        Json(new ClientMessage<SubscribeData>("subscribe", data, channel), LiveJsonContext.Default.ClientMessageSubscribeData);

    public static OutgoingFrame Unsubscribe(string channel) =>
        Json(new ClientMessage<SubscribeData>("unsubscribe", new SubscribeData(), channel), LiveJsonContext.Default.ClientMessageSubscribeData);

    public static OutgoingFrame CommandStart(string cmdId) =>
        Json(new ClientMessage<CommandStartData>("command:start", new CommandStartData(cmdId)), LiveJsonContext.Default.ClientMessageCommandStartData);

    public static OutgoingFrame TerminalInput(string terminalId, string input, TaskCompletionSource sent) =>
        Json(new ClientMessage<TerminalInputData>("terminal:input", new TerminalInputData(terminalId, input)),
            LiveJsonContext.Default.ClientMessageTerminalInputData, sent);

    public static OutgoingFrame TerminalResize(string terminalId, int cols, int rows, TaskCompletionSource sent) =>
        Json(new ClientMessage<TerminalResizeData>("terminal:resize", new TerminalResizeData(terminalId, cols, rows)),
            LiveJsonContext.Default.ClientMessageTerminalResizeData, sent);

    private static OutgoingFrame Json<T>(T message, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, TaskCompletionSource? sent = null) =>
        new(JsonSerializer.SerializeToUtf8Bytes(message, type), WebSocketMessageType.Text, sent);

    /// <summary>
    /// <c>terminal:input</c> as a binary data frame (daemon-websocket.md §4) whose <c>input</c> is a bytes value (0x04):
    /// the agent writes those bytes to the PTY unchanged, so input that is not valid UTF-8 survives.
    /// </summary>
    public static OutgoingFrame TerminalInputBytes(string terminalId, ReadOnlySpan<byte> input, TaskCompletionSource sent)
    {
        var type = "terminal:input"u8;
        var idKey = "terminal_id"u8;
        var inputKey = "input"u8;
        var id = Encoding.UTF8.GetBytes(terminalId);
        var dataLength = 2 + (2 + idKey.Length + 1 + 4 + id.Length) + (2 + inputKey.Length + 1 + 4 + input.Length);
        var frame = new byte[1 + 2 + 0 + 2 + type.Length + 4 + dataLength];
        var span = frame.AsSpan();
        var pos = 0;
        span[pos++] = 0x03; // data frame
        BinaryPrimitives.WriteUInt16BigEndian(span[pos..], 0); // empty channel: the agent routes by terminal_id
        pos += 2;
        BinaryPrimitives.WriteUInt16BigEndian(span[pos..], (ushort)type.Length);
        pos += 2;
        type.CopyTo(span[pos..]);
        pos += type.Length;
        BinaryPrimitives.WriteUInt32BigEndian(span[pos..], (uint)dataLength);
        pos += 4;
        BinaryPrimitives.WriteUInt16BigEndian(span[pos..], 2); // two fields
        pos += 2;
        pos = WriteField(span, pos, idKey, 0x01, id);
        WriteField(span, pos, inputKey, 0x04, input);
        return new OutgoingFrame(frame, WebSocketMessageType.Binary, sent);
    }

    private static int WriteField(Span<byte> span, int pos, ReadOnlySpan<byte> key, byte valueType, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(span[pos..], (ushort)key.Length);
        pos += 2;
        key.CopyTo(span[pos..]);
        pos += key.Length;
        span[pos++] = valueType;
        BinaryPrimitives.WriteUInt32BigEndian(span[pos..], (uint)value.Length);
        pos += 4;
        value.CopyTo(span[pos..]);
        return pos + value.Length;
    }
}
