using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Sandboxd.Bench;

/// <summary>
/// A keep-alive HTTP/1.1 client on a raw socket, for the figure that is the agent's own (issue 17): one prebuilt request
/// is written, the response is read until it is complete (Content-Length or the last chunk), nothing else happens on
/// the clock — no header objects, no content streams, no handler pipeline. The answer is checked after the clock stops.
/// </summary>
internal sealed class RawHttp : IDisposable
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray();
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private byte[] _buffer = new byte[64 * 1024];

    private RawHttp()
    {
    }

    public static async Task<RawHttp> ConnectAsync(Uri url)
    {
        var raw = new RawHttp();
        await raw._socket.ConnectAsync(url.Host, url.Port).ConfigureAwait(false);
        return raw;
    }

    public static byte[] Request(Uri url, string token, byte[]? body)
    {
        var head = new StringBuilder()
            .Append(body is null ? "GET " : "POST ").Append(url.PathAndQuery).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(url.Authority).Append("\r\n")
            .Append("Authorization: Bearer ").Append(token).Append("\r\n");
        if (body is not null)
        {
            head.Append("Content-Type: application/json\r\nContent-Length: ").Append(body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body ?? []];
    }

    /// <summary>One round trip; returns the milliseconds it took, the status code and the decoded body.</summary>
    public async Task<(double Ms, int Status, byte[] Body)> CallAsync(byte[] request)
    {
        var start = Stopwatch.GetTimestamp();
        await _socket.SendAsync(request, SocketFlags.None).ConfigureAwait(false);
        var length = 0;
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(0, length).IndexOf(HeaderEnd)) < 0)
        {
            length = await ReceiveAsync(length).ConfigureAwait(false);
        }

        var bodyStart = headerEnd + HeaderEnd.Length;
        var head = Encoding.ASCII.GetString(_buffer, 0, headerEnd);
        var contentLength = -1;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = int.Parse(line.AsSpan(15).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (contentLength >= 0)
        {
            while (length - bodyStart < contentLength)
            {
                length = await ReceiveAsync(length).ConfigureAwait(false);
            }
        }
        else
        {
            while (!_buffer.AsSpan(bodyStart, length - bodyStart).EndsWith(LastChunk))
            {
                length = await ReceiveAsync(length).ConfigureAwait(false);
            }
        }

        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (contentLength >= 0 && length != bodyStart + contentLength)
        {
            throw new InvalidOperationException("more bytes than one response arrived (the client sends one request at a time)");
        }

        var body = contentLength >= 0 ? _buffer.AsSpan(bodyStart, contentLength).ToArray() : Dechunk(_buffer.AsSpan(bodyStart, length - bodyStart));
        return (ms, int.Parse(head.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), body);
    }

    private async Task<int> ReceiveAsync(int length)
    {
        if (length == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var n = await _socket.ReceiveAsync(_buffer.AsMemory(length), SocketFlags.None).ConfigureAwait(false);
        return n > 0 ? length + n : throw new InvalidOperationException("the agent closed the connection");
    }

    private static byte[] Dechunk(ReadOnlySpan<byte> chunked)
    {
        var body = new List<byte>();
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n"u8);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked[..lineEnd]).Split(';')[0], 16);
            if (size == 0)
            {
                return [.. body];
            }

            body.AddRange(chunked.Slice(lineEnd + 2, size));
            chunked = chunked[(lineEnd + 2 + size + 2)..];
        }
    }

    public void Dispose() => _socket.Dispose();
}
