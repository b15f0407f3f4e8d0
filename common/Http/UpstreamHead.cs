using System.Globalization;
using System.Text;

namespace Sandboxd.Http;

/// <summary>The status line and headers of an upstream's answer to a WebSocket upgrade, and the bytes read past them.</summary>
public sealed record UpstreamHead(int Status, IReadOnlyList<(string Name, string Value)> Headers, ReadOnlyMemory<byte> Rest)
{
    private const int MaxHeadBytes = 64 * 1024;

    public long? ContentLength =>
        Headers.Where(h => h.Name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => long.TryParse(h.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : (long?)null).FirstOrDefault();

    /// <summary>Reads up to the blank line that ends the head; null when the stream ends first, or the head is malformed or over 64 KiB.</summary>
    public static async Task<UpstreamHead?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[4 * 1024];
        var filled = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Parse(Encoding.Latin1.GetString(buffer, 0, end), buffer.AsSpan(end + 4, filled - end - 4).ToArray());
            }

            if (filled == buffer.Length)
            {
                if (buffer.Length >= MaxHeadBytes)
                {
                    return null;
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            filled += read;
        }
    }

    public static UpstreamHead? Parse(string head, byte[] rest)
    {
        var lines = head.Split("\r\n");
        // "HTTP/1.1 101 Switching Protocols"
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || status[1].Length != 3
            || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code < 100)
        {
            return null;
        }

        var headers = new List<(string, string)>(lines.Length - 1);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return null;
            }

            headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }

        return new UpstreamHead(code, headers, rest);
    }
}
