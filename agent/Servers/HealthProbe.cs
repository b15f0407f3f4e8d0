using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sandboxd.Servers;

/// <summary>
/// One health check: <c>GET path</c> to <c>127.0.0.1:port</c> on a fresh connection, answered by its status line.
/// A raw socket rather than an <see cref="HttpClient"/>: a check is one request on a connection the server usually
/// closes, so the client's pool, header parsing, response objects and per-connection socket options were pure cost,
/// paid 50 times a second by 100 idle servers (ADR 0019). The body is never read: the socket closes once the status
/// line is in.
/// </summary>
internal static class HealthProbe
{
    /// <summary>The status line must arrive within this many bytes.</summary>
    private const int MaxStatusLine = 512;

    /// <summary>The request bytes for a check of <paramref name="path"/> (escaped as a URI path and query, as an HTTP client would).</summary>
    public static byte[] Request(int port, string path)
    {
        var target = new Uri(new Uri($"http://127.0.0.1:{port}"), path).PathAndQuery;
        return Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: sandboxd-health\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    }

    /// <returns>The answer's status code.</returns>
    /// <exception cref="HealthProbeException">No connection, or no valid status line before the server closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> ended the check (its timeout).</exception>
    public static async Task<int> GetStatusAsync(int port, byte[] request, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var buffer = new byte[MaxStatusLine];
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
            await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                filled += read;
                if (buffer.AsSpan(0, filled).IndexOf("\r\n"u8) >= 0)
                {
                    break;
                }
            }

            return ParseStatus(buffer.AsSpan(0, filled));
        }
        catch (SocketException e)
        {
            throw new HealthProbeException(e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message);
        }
    }

    /// <summary>"HTTP/1.x NNN …": the three digits after the first space.</summary>
    internal static int ParseStatus(ReadOnlySpan<byte> head)
    {
        var end = head.IndexOf("\r\n"u8);
        var line = end >= 0 ? head[..end] : head;
        if (!line.StartsWith("HTTP/"u8))
        {
            throw new HealthProbeException(head.IsEmpty ? "the server closed the connection without answering" : "the answer is not HTTP");
        }

        var space = line.IndexOf((byte)' ');
        if (space < 0 || line.Length < space + 4 || !char.IsAsciiDigit((char)line[space + 1]) || !char.IsAsciiDigit((char)line[space + 2])
            || !char.IsAsciiDigit((char)line[space + 3]) || (line.Length > space + 4 && line[space + 4] != (byte)' '))
        {
            throw new HealthProbeException("the answer has no valid status line");
        }

        return ((line[space + 1] - '0') * 100) + ((line[space + 2] - '0') * 10) + (line[space + 3] - '0');
    }
}

/// <summary>A health check that got no status code (refused, reset, not HTTP).</summary>
internal sealed class HealthProbeException(string message) : Exception(message);
