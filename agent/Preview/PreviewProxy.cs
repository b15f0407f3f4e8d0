using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.Features;

namespace Sandboxd.Preview;

/// <summary>
/// A small streaming reverse proxy to <c>127.0.0.1:&lt;port&gt;</c> for preview URLs: HTTP requests and responses are
/// streamed (never buffered whole), hop-by-hop headers are dropped, the agent's own credentials are not forwarded,
/// and WebSocket upgrades are bridged frame by frame.
/// </summary>
internal sealed class PreviewProxy : IDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "Host",
    };

    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
    });

    public async Task ForwardAsync(HttpContext context, int port, string pathAndQuery, CancellationToken cancellationToken)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            await ForwardWebSocketAsync(context, port, pathAndQuery, cancellationToken).ConfigureAwait(false);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri($"http://127.0.0.1:{port}{pathAndQuery}"));
        var hasBody = context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0;
        if (hasBody)
        {
            request.Content = new StreamContent(context.Request.Body);
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            {
                var kept = string.Join("; ", values.ToString().Split(';').Select(c => c.Trim()).Where(c => !c.StartsWith("session_token=", StringComparison.Ordinal)));
                if (kept.Length > 0)
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

        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await Hosting.Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, $"Nothing answered on port {port}: {e.Message}").ConfigureAwait(false);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var header in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(header.Key))
                {
                    context.Response.Headers[header.Key] = header.Value.ToArray();
                }
            }

            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(context.Response.Body, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task ForwardWebSocketAsync(HttpContext context, int port, string pathAndQuery, CancellationToken cancellationToken)
    {
        using var upstream = new ClientWebSocket();
        foreach (var protocol in context.WebSockets.WebSocketRequestedProtocols)
        {
            upstream.Options.AddSubProtocol(protocol);
        }

        try
        {
            await upstream.ConnectAsync(new Uri($"ws://127.0.0.1:{port}{pathAndQuery}"), cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException e)
        {
            await Hosting.Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, $"WebSocket upgrade to port {port} failed: {e.Message}").ConfigureAwait(false);
            return;
        }

        using var downstream = await context.WebSockets.AcceptWebSocketAsync(upstream.SubProtocol).ConfigureAwait(false);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var a = PumpAsync(downstream, upstream, both);
        var b = PumpAsync(upstream, downstream, both);
        await Task.WhenAny(a, b).ConfigureAwait(false);
        // One side sent Close (forwarded): give the other side a moment to answer it, so the close handshake completes.
        try
        {
            await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await both.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(a, b).ConfigureAwait(false);
        }
    }

    private static async Task PumpAsync(WebSocket from, WebSocket to, CancellationTokenSource both)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (!both.IsCancellationRequested)
            {
                var result = await from.ReceiveAsync(buffer, both.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await to.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, both.Token).ConfigureAwait(false);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, both.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // one side went away: the bridge ends
        }
    }

    public void Dispose() => _client.Dispose();
}
