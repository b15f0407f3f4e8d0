using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sandboxd.Live;

/// <summary>
/// A decoded client → daemon message (from either frame kind). Its data is read as one of the client's typed records
/// (<c>client/Protocol/Live.cs</c>) with the same source-generated context the client writes them with; raw bytes values
/// (0x04, binary frames only) are kept aside, since JSON has no such kind.
/// </summary>
internal sealed class InboundMessage(string type, string channel, byte[]? dataJson, IReadOnlyDictionary<string, byte[]>? bytes = null)
{
    public string Type { get; } = type;
    public string Channel { get; } = channel;

    /// <summary>The data as <typeparamref name="T"/>; null when there is none or it does not have the record's shape
    /// (a field of the wrong kind): such a message is treated as one without data.</summary>
    public T? Read<T>(JsonTypeInfo<T> info) where T : class
    {
        if (dataJson is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(dataJson, info);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null; // a field of the wrong kind, or a string that is not text (an escaped lone surrogate)
        }
    }

    /// <summary>A bytes-valued field of a binary frame (e.g. <c>input</c> of <c>terminal:input</c>).</summary>
    public byte[]? GetBytes(string key) => bytes is not null && bytes.TryGetValue(key, out var value) ? value : null;

    /// <summary>Turns a binary frame's key-value block into the JSON object the typed records are read from.</summary>
    public static InboundMessage FromKeyValues(string type, string channel, Dictionary<string, object?> fields)
    {
        Dictionary<string, byte[]>? bytes = null;
        var json = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                switch (value)
                {
                    case string s: writer.WriteString(key, s); break;
                    case double d when double.IsFinite(d): writer.WriteNumber(key, d); break;
                    case bool b: writer.WriteBoolean(key, b); break;
                    case byte[] raw: (bytes ??= new(StringComparer.Ordinal))[key] = raw; break;
                    default: break; // NaN and infinities have no JSON form: the field is absent
                }
            }

            writer.WriteEndObject();
        }

        return new InboundMessage(type, channel, json.WrittenSpan.ToArray(), bytes);
    }
}

/// <summary>
/// The binary frame layout of daemon-websocket.md §4, byte-exact: type (1) · channel (u16 + UTF-8) · message type
/// (u16 + UTF-8) · data (u32 + bytes), big-endian, data a key-value block.
/// </summary>
internal static class BinaryFrames
{
    public const byte Subscribe = 0x01;
    public const byte Unsubscribe = 0x02;
    public const byte Data = 0x03;

    /// <summary>Decodes a binary frame; null when it is shorter than 9 bytes or a length overruns it.</summary>
    public static InboundMessage? Decode(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 9)
        {
            return null;
        }

        var kind = frame[0];
        var pos = 1;
        if (!TryReadString16(frame, ref pos, out var channel) || !TryReadString16(frame, ref pos, out var type) || pos + 4 > frame.Length)
        {
            return null;
        }

        var dataLength = BinaryPrimitives.ReadUInt32BigEndian(frame[pos..]);
        pos += 4;
        if (dataLength > (uint)(frame.Length - pos))
        {
            return null;
        }

        var data = frame.Slice(pos, (int)dataLength);
        var fields = TryDecodeKeyValues(data) ?? new Dictionary<string, object?>();
        var messageType = kind switch
        {
            Subscribe => "subscribe",
            Unsubscribe => "unsubscribe",
            _ => type,
        };
        return InboundMessage.FromKeyValues(messageType, channel, fields);
    }

    private static bool TryReadString16(ReadOnlySpan<byte> frame, ref int pos, out string value)
    {
        value = "";
        if (pos + 2 > frame.Length)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(frame[pos..]);
        pos += 2;
        if (pos + length > frame.Length)
        {
            return false;
        }

        value = Encoding.UTF8.GetString(frame.Slice(pos, length));
        pos += length;
        return true;
    }

    /// <summary>Decodes a key-value block; null if it is malformed (then the data is treated as empty).</summary>
    public static Dictionary<string, object?>? TryDecodeKeyValues(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
        {
            return data.Length == 0 ? [] : null;
        }

        var count = BinaryPrimitives.ReadUInt16BigEndian(data);
        var pos = 2;
        var result = new Dictionary<string, object?>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            if (!TryReadString16(data, ref pos, out var key) || pos + 5 > data.Length)
            {
                return null;
            }

            var valueType = data[pos];
            var length = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 1)..]);
            pos += 5;
            if (length > (uint)(data.Length - pos))
            {
                return null;
            }

            var value = data.Slice(pos, (int)length);
            pos += (int)length;
            switch (valueType)
            {
                case 0x01: result[key] = Encoding.UTF8.GetString(value); break;
                case 0x02 when length == 8: result[key] = BinaryPrimitives.ReadDoubleBigEndian(value); break;
                case 0x03: result[key] = value.Length > 0 && value[0] != 0; break;
                case 0x04: result[key] = value.ToArray(); break;
                default: return null;
            }
        }

        return result;
    }

    /// <summary>
    /// Encodes a daemon → client data frame (only used with <c>--ws-binary-out</c>): the message's typed data is written as
    /// JSON once and its top-level fields become the key-value block, in the same order (strings 0x01, numbers 0x02 as
    /// float64, booleans 0x03).
    /// </summary>
    public static byte[] Encode(LiveMessage message)
    {
        var channel = Encoding.UTF8.GetBytes(message.Channel ?? "");
        var type = Encoding.UTF8.GetBytes(message.Type);
        var json = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(json))
        {
            message.WriteData(writer);
        }

        var body = new List<byte>(json.WrittenCount + 32) { 0, 0 };
        Span<byte> scratch = stackalloc byte[8];
        var reader = new Utf8JsonReader(json.WrittenSpan);
        reader.Read(); // the data object
        ushort count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var keyBytes = Encoding.UTF8.GetBytes(reader.GetString()!);
            reader.Read();
            byte[] valueBytes;
            byte valueType;
            switch (reader.TokenType)
            {
                case JsonTokenType.True or JsonTokenType.False:
                    valueType = 0x03;
                    valueBytes = [(byte)(reader.GetBoolean() ? 1 : 0)];
                    break;
                case JsonTokenType.Number:
                    valueType = 0x02;
                    valueBytes = new byte[8];
                    BinaryPrimitives.WriteDoubleBigEndian(valueBytes, reader.GetDouble());
                    break;
                case JsonTokenType.String:
                    valueType = 0x01;
                    valueBytes = Encoding.UTF8.GetBytes(reader.GetString()!);
                    break;
                default:
                    reader.Skip(); // live data records hold only strings, numbers and booleans
                    continue;
            }

            BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)keyBytes.Length);
            body.AddRange(scratch[..2]);
            body.AddRange(keyBytes);
            body.Add(valueType);
            BinaryPrimitives.WriteUInt32BigEndian(scratch, (uint)valueBytes.Length);
            body.AddRange(scratch[..4]);
            body.AddRange(valueBytes);
            count++;
        }

        body[0] = (byte)(count >> 8);
        body[1] = (byte)count;

        var frame = new byte[1 + 2 + channel.Length + 2 + type.Length + 4 + body.Count];
        var pos = 0;
        frame[pos++] = Data;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(pos), (ushort)channel.Length);
        pos += 2;
        channel.CopyTo(frame, pos);
        pos += channel.Length;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(pos), (ushort)type.Length);
        pos += 2;
        type.CopyTo(frame, pos);
        pos += type.Length;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(pos), (uint)body.Count);
        pos += 4;
        body.CopyTo(frame, pos);
        return frame;
    }
}
