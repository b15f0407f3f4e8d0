using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Reliability;

/// <summary>Raw WebSocket bytes (RFC 6455 framing, written by hand so that it can be wrong on purpose).</summary>
public static class FuzzFrames
{
    private static readonly string[] Types = ["subscribe", "unsubscribe", "command:start", "terminal:input", "terminal:resize", "ping", "x"];

    public static (byte[] Bytes, string Kind) Handshake(FuzzInput f, AgentProcess agent)
    {
        var token = Uri.EscapeDataString(agent.Token!);
        var (query, version, key, kind) = f.Next(12) switch
        {
            0 => ($"token={token}&protocol={Uri.EscapeDataString(f.WeirdString())}", "13", "dGhlIHNhbXBsZSBub25jZQ==", "protocol"),
            1 => ($"token={token}", "99", "dGhlIHNhbXBsZSBub25jZQ==", "version"),
            2 => ($"token={token}", "13", "not base64!", "key"),
            3 => ($"token={Uri.EscapeDataString(f.WeirdString())}", "13", "dGhlIHNhbXBsZSBub25jZQ==", "token"),
            _ => ($"token={token}&protocol={f.Pick(["json", "binary"])}", "13", "dGhlIHNhbXBsZSBub25jZQ==", "valid"),
        };
        var request = $"GET /ws?{query} HTTP/1.1\r\nHost: {agent.BaseUrl.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n";
        return (Encoding.ASCII.GetBytes(request), kind);
    }

    public static async Task<(int Status, string Head)> ReadHandshakeAsync(NetworkStream stream, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 16_384)
        {
            if (await stream.ReadAsync(one, timeout.Token) == 0)
            {
                break;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r')
            {
                break;
            }
        }

        var text = Encoding.ASCII.GetString([.. head]);
        var parts = text.Split(' ', 3);
        return (parts.Length > 1 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0, text);
    }

    /// <summary>One case: a sequence of client frames, well-formed or not.</summary>
    public static (byte[] Bytes, string Kind) Frames(FuzzInput f)
    {
        switch (f.Next(13))
        {
            case 0:
            case 1:
            case 2:
                return (Frame(true, 0, 0x1, true, Encoding.UTF8.GetBytes(JsonMessage(f))), "json-message");
            case 3:
            case 4:
                return (Frame(true, 0, 0x2, true, BinaryMessage(f)), "binary-message");
            case 5:
                var random = new byte[f.Next(3000)];
                f.Random.NextBytes(random);
                return (Frame(true, 0, (byte)(f.Chance(2) ? 0x1 : 0x2), true, random), "random-payload");
            case 6:
                return (Frame(true, (byte)(1 + f.Next(7)), 0x1, true, "{}"u8.ToArray()), "reserved-bits");
            case 7:
                return (Frame(true, 0, f.Pick<byte>([0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xF]), true, "{}"u8.ToArray()), "unknown-opcode");
            case 8:
                return (Frame(true, 0, 0x1, false, Encoding.UTF8.GetBytes(JsonMessage(f))), "unmasked");
            case 9:
                return (f.Next(3) switch
                {
                    0 => Frame(true, 0, 0x9, true, new byte[126 + f.Next(1000)]),
                    1 => Frame(false, 0, 0x9, true, "p"u8.ToArray()),
                    _ => Frame(true, 0, 0x8, true, f.Chance(2) ? [0x03] : [0x00, 0x05, 0xFF]),
                }, "bad-control");
            case 10:
                return ([.. Frame(true, 0, 0x0, true, "x"u8.ToArray()), .. Frame(false, 0, 0x1, true, "{\"ty"u8.ToArray()), .. Frame(true, 0, 0x2, true, "pe\""u8.ToArray())], "bad-continuation");
            case 11:
                // A header that announces far more than will ever come.
                return (Header(true, 0, 0x2, true, f.Chance(2) ? long.MaxValue : 1L << (20 + f.Next(20))).Concat(new byte[f.Next(100)]).ToArray(), "huge-length");
            default:
                // Oversized, genuinely sent: one frame, or fragments adding up to many MiB.
                var size = (1 << 20) * (1 + f.Next(16));
                if (f.Chance(2))
                {
                    return (Frame(true, 0, 0x1, true, Encoding.UTF8.GetBytes("{\"type\":\"terminal:input\",\"data\":{\"input\":\"" + new string('i', size) + "\"}}")), "oversized-frame");
                }

                var chunk = new byte[64 * 1024];
                chunk.AsSpan().Fill((byte)'a');
                var fragments = new List<byte>();
                fragments.AddRange(Frame(false, 0, 0x1, true, "{\"type\":\"x\",\"data\":\""u8.ToArray()));
                for (var sent = 0; sent < size; sent += chunk.Length)
                {
                    fragments.AddRange(Frame(false, 0, 0x0, true, chunk));
                }

                fragments.AddRange(Frame(true, 0, 0x0, true, "\"}"u8.ToArray()));
                return ([.. fragments], "oversized-fragmented");
        }
    }

    private static string JsonMessage(FuzzInput f)
    {
        var type = f.Chance(5) ? f.Value() : FuzzInput.Quote(f.Pick(Types));
        var data = f.Chance(3) ? f.Value() : FuzzInput.JsonObject(Enumerable.Range(0, f.Next(5)).Select(_ =>
            (f.Pick(["terminal_id", "input", "cols", "rows", "cmd_id", "offset", "stdout_offset", f.WeirdString()]), f.Value())));
        var fields = new List<(string, string)> { ("type", type), ("channel", f.Chance(3) ? f.Value() : FuzzInput.Quote(f.Pick(["terminal:x", "command:y", "signals", f.WeirdString()]))), ("data", data) };
        var text = FuzzInput.JsonObject(fields.Where(_ => !f.Chance(6)));
        return f.Chance(5) ? text[..f.Next(Math.Max(1, text.Length))] : text;
    }

    private static byte[] BinaryMessage(FuzzInput f)
    {
        var message = WireFrames.Encode((byte)(1 + f.Next(3)), f.Pick(["terminal:x", "command:y", f.WeirdString()]), f.Pick(Types),
            ("terminal_id", f.WeirdString()), ("input", f.RandomText(f.Next(100))), ("cols", f.Next(100_000)));
        for (var i = 0; i < f.Next(4) && message.Length > 0; i++)
        {
            message[f.Next(message.Length)] = (byte)f.Next(256);
        }

        return f.Chance(4) ? message[..f.Next(message.Length)] : message;
    }

    public static byte[] Frame(bool fin, byte rsv, byte opcode, bool masked, byte[] payload)
    {
        var header = Header(fin, rsv, opcode, masked, payload.Length);
        var frame = new byte[header.Length + payload.Length];
        header.CopyTo(frame, 0);
        payload.CopyTo(frame, header.Length);
        if (masked)
        {
            var key = header.AsSpan(header.Length - 4);
            for (var i = 0; i < payload.Length; i++)
            {
                frame[header.Length + i] ^= key[i & 3];
            }
        }

        return frame;
    }

    private static byte[] Header(bool fin, byte rsv, byte opcode, bool masked, long length)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | opcode) };
        var mask = masked ? 0x80 : 0;
        if (length < 126)
        {
            header.Add((byte)(mask | (int)length));
        }
        else if (length <= ushort.MaxValue)
        {
            header.Add((byte)(mask | 126));
            header.Add((byte)(length >> 8));
            header.Add((byte)length);
        }
        else
        {
            header.Add((byte)(mask | 127));
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(bytes, length);
            header.AddRange(bytes);
        }

        if (masked)
        {
            header.AddRange([0x12, 0x34, 0x56, 0x78]);
        }

        return [.. header];
    }
}
