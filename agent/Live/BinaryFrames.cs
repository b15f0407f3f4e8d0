using System.Buffers.Binary;
using System.Text;

namespace Sandboxd.Live;

/// <summary>A decoded client → daemon message (from either frame kind).</summary>
internal sealed record InboundMessage(string Type, string Channel, IReadOnlyDictionary<string, object?> Data)
{
    public string? GetString(string key) => Data.TryGetValue(key, out var v) ? v as string : null;

    public double? GetNumber(string key) => Data.TryGetValue(key, out var v) ? v switch
    {
        double d => d,
        string s when double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var p) => p,
        _ => null,
    } : null;
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
        return new InboundMessage(messageType, channel, fields);
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

    /// <summary>Encodes a daemon → client data frame (only used with <c>--ws-binary-out</c>).</summary>
    public static byte[] Encode(LiveMessage message)
    {
        var channel = Encoding.UTF8.GetBytes(message.Channel ?? "");
        var type = Encoding.UTF8.GetBytes(message.Type);
        var body = new List<byte>(64);
        Span<byte> scratch = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)message.Data.Count);
        body.AddRange(scratch[..2]);
        foreach (var (key, value) in message.Data)
        {
            var keyBytes = Encoding.UTF8.GetBytes(key);
            BinaryPrimitives.WriteUInt16BigEndian(scratch, (ushort)keyBytes.Length);
            body.AddRange(scratch[..2]);
            body.AddRange(keyBytes);
            byte[] valueBytes;
            byte valueType;
            switch (value)
            {
                case bool b: valueType = 0x03; valueBytes = [(byte)(b ? 1 : 0)]; break;
                case int or long or double:
                    valueType = 0x02;
                    valueBytes = new byte[8];
                    BinaryPrimitives.WriteDoubleBigEndian(valueBytes, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default: valueType = 0x01; valueBytes = Encoding.UTF8.GetBytes(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""); break;
            }

            body.Add(valueType);
            BinaryPrimitives.WriteUInt32BigEndian(scratch, (uint)valueBytes.Length);
            body.AddRange(scratch[..4]);
            body.AddRange(valueBytes);
        }

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
