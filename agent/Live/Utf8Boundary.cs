namespace Sandboxd.Live;

/// <summary>Where a byte chunk can be cut without splitting a UTF-8 sequence.</summary>
internal static class Utf8Boundary
{
    /// <summary>Length of the longest prefix of <paramref name="bytes"/> that does not end inside a multi-byte sequence.</summary>
    public static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        // Look back at most 3 bytes for the lead byte of a sequence that is still missing continuation bytes.
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue; // continuation byte: keep looking for the lead
            }

            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > back ? bytes.Length - back : bytes.Length;
        }

        return bytes.Length;
    }
}
