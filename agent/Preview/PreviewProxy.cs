using Microsoft.Extensions.Primitives;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Http;
using Sandboxd.WebSockets;

namespace Sandboxd.Preview;

/// <summary>
/// A small streaming reverse proxy to <c>127.0.0.1:&lt;port&gt;</c> for preview URLs: HTTP requests and responses are
/// streamed (never buffered whole), hop-by-hop headers are dropped, the agent's own credentials are not forwarded,
/// and WebSocket upgrades are tunnelled byte for byte after the upstream's 101.
/// </summary>
internal sealed class PreviewProxy : IDisposable
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    /// <summary>Response bodies are copied in chunks of this size (bench/proxy: 80 KiB → 256 KiB, see its README).</summary>
    private const int CopyBufferBytes = 256 * 1024;

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Host",
    };

    private readonly UpgradeForwarder _upgrades = new(HandshakeTimeout);

    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        // No trace-context headers are added upstream (and no per-request diagnostics work to decide whether to).
        ActivityHeadersPropagator = null,
    });

    public async Task ForwardAsync(HttpContext context, int port, string pathAndQuery, CancellationToken cancellationToken)
    {
        if (WebSocketUpgrade.IsWebSocketRequest(context))
        {
            await TunnelWebSocketAsync(context, port, pathAndQuery, cancellationToken).ConfigureAwait(false);
            return;
        }

        // pathAndQuery is the client's raw target (PreviewTarget): still percent-encoded, so Uri keeps it as sent.
        if (!Uri.TryCreate($"http://127.0.0.1:{port}{pathAndQuery}", UriKind.Absolute, out var upstreamUri))
        {
            await Api.WriteErrorAsync(context, ErrorKind.Invalid, "bad preview path: it is not a valid request target").ConfigureAwait(false);
            return;
        }

        using var request = new HttpRequestMessage(HttpMethod.Parse(context.Request.Method), upstreamUri);
        var hasBody = context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0;
        if (hasBody)
        {
            request.Content = new StreamContent(context.Request.Body);
        }

        CopyRequestHeaders(context, request);

        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await Api.WriteErrorAsync(context, ErrorKind.BadGateway, $"Nothing answered on port {port}: {e.Message}").ConfigureAwait(false);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            CopyResponseHeaders(response.Headers, context.Response.Headers);
            CopyResponseHeaders(response.Content.Headers, context.Response.Headers);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await CopyBodyAsync(body, context.Response, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The upstream's headers as it sent them (<see cref="System.Net.Http.Headers.HttpHeaders.NonValidated"/>: not parsed, no LINQ),
    /// without the hop-by-hop ones.</summary>
    private static void CopyResponseHeaders(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from.NonValidated)
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (values.Count == 1)
            {
                to[name] = values.ToString();
                continue;
            }

            var all = new string[values.Count];
            var i = 0;
            foreach (var value in values)
            {
                all[i++] = value;
            }

            to[name] = all;
        }
    }

    /// <summary>
    /// The body is read from the upstream straight into the response pipe's memory (no intermediate buffer to copy
    /// from) in reads of up to <see cref="CopyBufferBytes"/> — or of the whole body when its announced length is
    /// smaller — and each read is flushed at once, so the client sees bytes as the upstream sends them.
    /// </summary>
    private static async Task CopyBodyAsync(Stream body, HttpResponse response, long? length, CancellationToken cancellationToken)
    {
        var writer = response.BodyWriter;
        var hint = length is { } l && l < CopyBufferBytes ? (int)Math.Max(l, 1) : CopyBufferBytes;
        while (true)
        {
            var memory = writer.GetMemory(hint);
            var read = await body.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            writer.Advance(read);
            var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled)
            {
                return;
            }
        }
    }

    /// <summary>
    /// A WebSocket upgrade is tunnelled, not re-framed: the client's handshake goes to the upstream with its key,
    /// subprotocols and extensions untouched (credentials stripped as for HTTP), the upstream's answer comes back, and
    /// after a 101 the bytes are copied both ways. No hashing or masking here (and so no OpenSSL), and whatever the two
    /// ends negotiate — permessage-deflate, a subprotocol — works end to end.
    /// </summary>
    private Task TunnelWebSocketAsync(HttpContext context, int port, string pathAndQuery, CancellationToken cancellationToken)
    {
        if (WebSocketUpgrade.Problem(context) is { } problem)
        {
            return Api.WriteErrorAsync(context, problem.Kind, problem.Message);
        }

        if (!Uri.TryCreate($"http://127.0.0.1:{port}{pathAndQuery}", UriKind.Absolute, out var upstreamUri))
        {
            return Api.WriteErrorAsync(context, ErrorKind.Invalid, "bad preview path: it is not a valid request target");
        }

        return _upgrades.ForwardAsync(context, upstreamUri, request => CopyRequestHeaders(context, request),
            reason => Api.WriteErrorAsync(context, ErrorKind.BadGateway, $"WebSocket upgrade to port {port} failed: {reason}"),
            cancellationToken);
    }

    /// <summary>The client's headers that go upstream: not hop-by-hop, not the agent's credentials (Authorization, its
    /// session cookie); plus Host and the X-Forwarded-* trio.</summary>
    private static void CopyRequestHeaders(HttpContext context, HttpRequestMessage request)
    {
        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            {
                if (ForwardedCookie(values) is { } kept)
                {
                    request.Headers.TryAddWithoutValidation("Cookie", kept);
                }

                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!) && request.Content is not null)
            {
                request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
        }

        request.Headers.Host = context.Request.Host.Value;
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", context.Request.Scheme);
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", context.Request.Host.Value);
        if (context.Connection.RemoteIpAddress is { } remote)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", remote.ToString());
        }
    }

    /// <summary>The client's cookies without the agent's own session cookie; null when none is left.</summary>
    private static string? ForwardedCookie(StringValues values)
    {
        var kept = string.Join("; ", values.ToString().Split(';').Select(c => c.Trim()).Where(c => c.Length > 0 && !c.StartsWith("session_token=", StringComparison.Ordinal)));
        return kept.Length > 0 ? kept : null;
    }

    public void Dispose()
    {
        _client.Dispose();
        _upgrades.Dispose();
    }
}
