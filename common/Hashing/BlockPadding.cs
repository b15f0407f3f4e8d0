using System.Buffers.Binary;

namespace Sandboxd.Hashing;

/// <summary>What SHA-1 and SHA-256 share (FIPS 180-4 §5): padding, 64-byte blocks of big-endian words, a big-endian digest.</summary>
public static class BlockPadding
{
    public const int BlockBytes = 64;

    /// <summary>The message, 0x80, zeros, and its length in bits (64-bit big-endian): a whole number of blocks.</summary>
    public static byte[] Pad(ReadOnlySpan<byte> data)
    {
        var paddedLength = ((data.Length + 9 + BlockBytes - 1) / BlockBytes) * BlockBytes;
        var message = new byte[paddedLength];
        data.CopyTo(message);
        message[data.Length] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(message.AsSpan(paddedLength - 8), (ulong)data.Length * 8);
        return message;
    }

    /// <summary>The 16 big-endian words of the block at <paramref name="offset"/> into <paramref name="w"/>[0..16].</summary>
    public static void ReadWords(byte[] message, int offset, Span<uint> w)
    {
        for (var i = 0; i < 16; i++)
        {
            w[i] = BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan(offset + (i * 4)));
        }
    }

    /// <summary>The state words as the big-endian digest.</summary>
    public static byte[] Digest(ReadOnlySpan<uint> h)
    {
        var digest = new byte[h.Length * 4];
        for (var i = 0; i < h.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(digest.AsSpan(i * 4), h[i]);
        }

        return digest;
    }
}
