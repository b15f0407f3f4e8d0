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

            // Only a valid lead byte (0xC2-0xF4) can be completed by later bytes: anything else is invalid already and
            // is never held back (0xC0/0xC1 and 0xF5-0xFF cannot start a sequence).
            var needed = b is >= 0xC2 and <= 0xDF ? 2 : b is >= 0xE0 and <= 0xEF ? 3 : b is >= 0xF0 and <= 0xF4 ? 4 : 1;
            return needed > back ? bytes.Length - back : bytes.Length;
        }

        return bytes.Length;
    }
}
