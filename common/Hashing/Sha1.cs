using System.Numerics;

namespace Sandboxd.Hashing;

/// <summary>
/// SHA-1 (FIPS 180-4) in managed code, for the one place the WebSocket protocol needs it: Sec-WebSocket-Accept
/// (RFC 6455 §4.2.2). Not for security. The runtime's SHA-1 goes through OpenSSL, and without libssl on the machine the
/// runtime aborts the whole process on first use — see <c>WebSockets/WebSocketUpgrade</c>.
/// </summary>
public static class Sha1
{
    public static byte[] Hash(ReadOnlySpan<byte> data)
    {
        uint h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
        var message = BlockPadding.Pad(data);
        Span<uint> w = stackalloc uint[80];
        for (var block = 0; block < message.Length; block += BlockPadding.BlockBytes)
        {
            BlockPadding.ReadWords(message, block, w);

            for (var i = 16; i < 80; i++)
            {
                w[i] = BitOperations.RotateLeft(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
            }

            uint a = h0, b = h1, c = h2, d = h3, e = h4;
            for (var i = 0; i < 80; i++)
            {
                var (f, k) = i switch
                {
                    < 20 => ((b & c) | (~b & d), 0x5A827999u),
                    < 40 => (b ^ c ^ d, 0x6ED9EBA1u),
                    < 60 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDCu),
                    _ => (b ^ c ^ d, 0xCA62C1D6u),
                };
                var t = BitOperations.RotateLeft(a, 5) + f + e + k + w[i];
                e = d;
                d = c;
                c = BitOperations.RotateLeft(b, 30);
                b = a;
                a = t;
            }

            h0 += a;
            h1 += b;
            h2 += c;
            h3 += d;
            h4 += e;
        }

        return BlockPadding.Digest([h0, h1, h2, h3, h4]);
    }
}
