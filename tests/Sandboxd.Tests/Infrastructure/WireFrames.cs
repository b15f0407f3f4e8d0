using System.Buffers.Binary;
using System.Text;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>A decoded daemon → client binary frame (daemon-websocket.md §4).</summary>
public sealed record DecodedFrame(byte Kind, string Channel, string Type, IReadOnlyDictionary<string, object> Data);

/// <summary>
/// An independent implementation of the §4 binary layout (written from the document, not from the agent): big-endian
/// type · u16 channel · u16 message type · u32 data, data a key-value block (0x01 string, 0x02 float64, 0x03 bool).
/// </summary>
public static class WireFrames
{
    public const byte Subscribe = 0x01;
    public const byte Unsubscribe = 0x02;
    public const byte Data = 0x03;

    public static byte[] Encode(byte kind, string channel, string type, params (string Key, object Value)[] fields)
    {
        using var data = new MemoryStream();
        WriteU16(data, fields.Length);
        foreach (var (key, value) in fields)
        {
            WriteString16(data, key);
            switch (value)
            {
                case string s:
                    var bytes = Encoding.UTF8.GetBytes(s);
                    data.WriteByte(0x01);
                    WriteU32(data, bytes.Length);
                    data.Write(bytes);
                    break;
                case int or long or double:
                    data.WriteByte(0x02);
                    WriteU32(data, 8);
                    var number = new byte[8];
                    BinaryPrimitives.WriteDoubleBigEndian(number, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
                    data.Write(number);
                    break;
                case bool b:
                    data.WriteByte(0x03);
                    WriteU32(data, 1);
                    data.WriteByte(b ? (byte)1 : (byte)0);
                    break;
                default:
                    throw new ArgumentException($"unencodable value {value}");
            }
        }

        using var frame = new MemoryStream();
        frame.WriteByte(kind);
        WriteString16(frame, channel);
        WriteString16(frame, type);
        WriteU32(frame, (int)data.Length);
        data.WriteTo(frame);
        return frame.ToArray();
    }

    public static byte[] Subscription(string channel) => Encode(Subscribe, channel, "subscribe");

    public static byte[] TerminalInput(string terminalId, string input) =>
        Encode(Data, "", "terminal:input", ("terminal_id", terminalId), ("input", input));

    public static byte[] TerminalResize(string terminalId, int cols, int rows) =>
        Encode(Data, "", "terminal:resize", ("terminal_id", terminalId), ("cols", cols), ("rows", rows));

    public static byte[] CommandStart(string cmdId) => Encode(Data, "", "command:start", ("cmd_id", cmdId));

    /// <summary>Decodes a frame strictly (throws on any overrun or unknown value type).</summary>
    public static DecodedFrame Decode(byte[] frame)
    {
        var pos = 0;
        var kind = frame[pos++];
        var channel = ReadString16(frame, ref pos);
        var type = ReadString16(frame, ref pos);
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(pos));
        pos += 4;
        if (pos + length != frame.Length)
        {
            throw new FormatException($"data length {length} does not end the {frame.Length}-byte frame at {pos}");
        }

        var fields = new Dictionary<string, object>(StringComparer.Ordinal);
        var count = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(pos));
        pos += 2;
        for (var i = 0; i < count; i++)
        {
            var key = ReadString16(frame, ref pos);
            var valueType = frame[pos++];
            var valueLength = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(pos));
            pos += 4;
            var value = frame.AsSpan(pos, valueLength);
            fields[key] = valueType switch
            {
                0x01 => Encoding.UTF8.GetString(value),
                0x02 => BinaryPrimitives.ReadDoubleBigEndian(value),
                0x03 => value[0] != 0,
                0x04 => value.ToArray(),
                _ => throw new FormatException($"unknown value type {valueType}"),
            };
            pos += valueLength;
        }

        if (pos != frame.Length)
        {
            throw new FormatException("key-value block does not fill the data");
        }

        return new DecodedFrame(kind, channel, type, fields);
    }

    public static byte[] FromHex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

    private static string ReadString16(byte[] frame, ref int pos)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(pos));
        pos += 2;
        var value = Encoding.UTF8.GetString(frame, pos, length);
        pos += length;
        return value;
    }

    private static void WriteString16(Stream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteU16(stream, bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteU16(Stream stream, int value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, checked((ushort)value));
        stream.Write(b);
    }

    private static void WriteU32(Stream stream, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, checked((uint)value));
        stream.Write(b);
    }
}
