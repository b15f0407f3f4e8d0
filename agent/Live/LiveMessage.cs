using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Sandboxd.Live;

/// <summary>
/// One daemon → client message: <c>{"type", "channel"?, "data":{…}}</c>. Data values are strings, numbers or booleans
/// (the only kinds the binary frame format can carry), so the same message can be written as JSON or as a binary frame.
/// </summary>
internal sealed class LiveMessage(string type, string? channel, params (string Key, object Value)[] data)
{
    public string Type { get; } = type;
    public string? Channel { get; } = channel;
    public IReadOnlyList<(string Key, object Value)> Data { get; } = data;

    private byte[]? _json;

    /// <summary>Called by the send loop once the frame was written to the socket (stream delivery accounting).</summary>
    public Action? Sent { get; set; }

    /// <summary>The JSON text frame, serialized once however many sockets receive it.</summary>
    public byte[] Json => _json ??= WriteJson();

    private byte[] WriteJson()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", Type);
            if (Channel is not null)
            {
                writer.WriteString("channel", Channel);
            }

            writer.WriteStartObject("data");
            foreach (var (key, value) in Data)
            {
                switch (value)
                {
                    case string s: writer.WriteString(key, s); break;
                    case bool b: writer.WriteBoolean(key, b); break;
                    case int i: writer.WriteNumber(key, i); break;
                    case long l: writer.WriteNumber(key, l); break;
                    case double d: writer.WriteNumber(key, d); break;
                    default: writer.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture)); break;
                }
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Types the client's binary decoder turns into structured data (daemon-websocket.md §3.2).</summary>
    public bool BinaryCapable => Type is "terminal:output" or "file:changed" or "signal";

    public long ApproximateSize => Json.Length;
}
