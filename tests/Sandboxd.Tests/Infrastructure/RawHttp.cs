using System.Net.Sockets;
using System.Text;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>A reply read off a raw socket.</summary>
public sealed record RawReply(int Status, string Headers, string Body);

/// <summary>
/// Sends a request target byte-for-byte (HttpClient/Uri would normalise <c>..</c> segments and re-escape bytes),
/// for the path-decoding tests.
/// </summary>
public static class RawHttp
{
    public static Task<RawReply> SendAsync(
        AgentProcess agent, string method, string target, CancellationToken cancellationToken, string? body = null, bool withToken = true)
    {
        var bodyBytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        var headers = body is null ? "" : $"Content-Type: application/json\r\nContent-Length: {bodyBytes.Length}\r\n";
        return SendRawAsync(agent, method, target, headers, bodyBytes, cancellationToken, withToken);
    }

    /// <summary>Sends <paramref name="extraHeaders"/> (CRLF-terminated lines) and <paramref name="body"/> exactly as given.</summary>
    public static async Task<RawReply> SendRawAsync(
        AgentProcess agent, string method, string target, string extraHeaders, byte[] body, CancellationToken cancellationToken, bool withToken = true,
        string? hostOverride = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(agent.BaseUrl.Host, agent.BaseUrl.Port, cancellationToken);
        await using var stream = client.GetStream();
        var head = new StringBuilder()
            .Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(hostOverride ?? agent.BaseUrl.Authority).Append("\r\n")
            .Append("Connection: close\r\n");
        if (withToken && agent.Token is not null)
        {
            head.Append("Authorization: Bearer ").Append(agent.Token).Append("\r\n");
        }

        head.Append(extraHeaders).Append("\r\n");
        // One write: the whole request is in the socket before the agent can answer early and close.
        byte[] request = [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
        await stream.WriteAsync(request, cancellationToken);

        using var buffer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(buffer, cancellationToken);
        }
        catch (IOException) when (buffer.Length > 0)
        {
            // A reset after the reply (the agent closed without reading the rest of a rejected body) is fine.
        }

        var bytes = buffer.ToArray();
        var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        var headers = Encoding.ASCII.GetString(bytes, 0, split < 0 ? bytes.Length : split);
        var payload = split < 0 ? [] : bytes[(split + 4)..];
        var status = int.Parse(headers.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        if (headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            payload = Dechunk(payload);
        }

        return new RawReply(status, headers, Encoding.UTF8.GetString(payload));
    }

    /// <summary>Encodes <paramref name="body"/> with chunked transfer encoding, in chunks of <paramref name="chunkSize"/> bytes.</summary>
    public static byte[] Chunked(byte[] body, int chunkSize)
    {
        using var result = new MemoryStream();
        for (var offset = 0; offset < body.Length; offset += chunkSize)
        {
            var size = Math.Min(chunkSize, body.Length - offset);
            result.Write(Encoding.ASCII.GetBytes($"{size:x}\r\n"));
            result.Write(body, offset, size);
            result.Write("\r\n"u8);
        }

        result.Write("0\r\n\r\n"u8);
        return result.ToArray();
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        using var result = new MemoryStream();
        var position = 0;
        while (position < chunked.Length)
        {
            var lineEnd = chunked.AsSpan(position).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }

            var sizeText = Encoding.ASCII.GetString(chunked, position, lineEnd).Split(';')[0].Trim();
            var size = Convert.ToInt32(sizeText, 16);
            if (size == 0)
            {
                break;
            }

            result.Write(chunked, position + lineEnd + 2, size);
            position += lineEnd + 2 + size + 2;
        }

        return result.ToArray();
    }
}
