using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Http;

namespace Sandboxd.Gateway.Proxy;

/// <summary>
/// The one-origin mode's reverse proxy to a sandbox's agent (adapted from the agent's preview proxy): HTTP requests
/// and responses are streamed, hop-by-hop headers dropped, credentials (Authorization, cookies) passed on — the agent
/// authenticates — and WebSocket upgrades tunnelled byte for byte after the agent's 101.
/// </summary>
internal sealed class SandboxProxy(IHostApplicationLifetime lifetime) : IDisposable
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private const long MaxRefusalBody = 1024 * 1024;
    /// <summary>Response bodies are copied in chunks of this size (bench/proxy: 80 KiB → 256 KiB, see its README).</summary>
    private const int CopyBufferBytes = 256 * 1024;

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

    public async Task ForwardAsync(HttpContext context, Uri agent, string pathAndQuery, CancellationToken requestAborted)
    {
        // Open tunnels and long responses end when the gateway stops, so a SIGTERM is not held by a client's socket.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        var cancellationToken = linked.Token;
        if (IsWebSocketRequest(context))
        {
            await TunnelWebSocketAsync(context, agent, pathAndQuery, cancellationToken);
            return;
        }

        using var request = BuildRequest(context, agent, pathAndQuery);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            await Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, $"The sandbox's agent did not answer: {e.Message}");
            return;
        }

        using (response)
        {
            await CopyResponseAsync(context, response, cancellationToken);
        }
    }

    private static HttpRequestMessage BuildRequest(HttpContext context, Uri agent, string pathAndQuery)
    {
        var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(agent.GetLeftPart(UriPartial.Authority) + pathAndQuery));
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(context.Request.Body);
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            if (!HopByHop.Contains(name) && !request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!) && request.Content is not null)
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

        return request;
    }

    private static async Task CopyResponseAsync(HttpContext context, HttpResponseMessage response, CancellationToken cancellationToken)
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
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await body.CopyToAsync(context.Response.Body, CopyBufferBytes, cancellationToken);
    }

    /// <summary>
    /// A WebSocket upgrade is tunnelled, not re-framed: the client's handshake goes to the upstream with its key,
    /// subprotocols, extensions and credentials untouched, the upstream's answer comes back, and
    /// after a 101 the bytes are copied both ways. No hashing or masking here (and so no OpenSSL), and whatever the two
    /// ends negotiate — permessage-deflate, a subprotocol — works end to end.
    /// </summary>
    private static async Task TunnelWebSocketAsync(HttpContext context, Uri agent, string pathAndQuery, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        handshake.CancelAfter(HandshakeTimeout);
        string Failed(Exception e) => $"WebSocket upgrade to the sandbox's agent failed: {(e is OperationCanceledException ? $"no answer within {HandshakeTimeout.TotalSeconds:0} s" : e.Message)}";
        try
        {
            await socket.ConnectAsync(IPAddress.TryParse(agent.Host, out var ip) ? ip : IPAddress.Loopback, agent.Port, handshake.Token);
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, Failed(e));
            return;
        }

        await using var upstream = new NetworkStream(socket, ownsSocket: false);
        UpstreamHead? head;
        try
        {
            await upstream.WriteAsync(Encoding.Latin1.GetBytes(UpgradeRequest(context, pathAndQuery)), handshake.Token);
            head = await UpstreamHead.ReadAsync(upstream, handshake.Token);
        }
        catch (Exception e) when (e is SocketException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, Failed(e));
            return;
        }

        if (head is null)
        {
            await Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway,
                "WebSocket upgrade to the sandbox's agent failed: the server closed the connection or sent a malformed answer");
            return;
        }

        foreach (var (name, value) in head.Headers)
        {
            if (!name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && !name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)
                && !name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers.Append(name, value);
            }
        }

        if (head.Status != StatusCodes.Status101SwitchingProtocols)
        {
            await WriteRefusalAsync(context, head, upstream, cancellationToken);
            return;
        }

        var downstream = await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync();
        await TunnelPump.RunAsync(downstream, upstream, socket, head.Rest, cancellationToken);
    }

    /// <summary>Refused (401, 404, 400…): the client gets the upstream's answer, with its body when it has a length.</summary>
    private static async Task WriteRefusalAsync(HttpContext context, UpstreamHead head, Stream upstream, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = head.Status;
        await context.Response.Body.WriteAsync(head.Rest, cancellationToken);
        var left = head.ContentLength is { } length ? Math.Min(length, MaxRefusalBody) - head.Rest.Length : 0;
        var buffer = new byte[16 * 1024];
        while (left > 0)
        {
            var read = await upstream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken);
            if (read == 0)
            {
                break;
            }

            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            left -= read;
        }
    }

    private static string UpgradeRequest(HttpContext context, string pathAndQuery)
    {
        var request = new StringBuilder(1024);
        request.Append("GET ").Append(pathAndQuery).Append(" HTTP/1.1\r\n");
        request.Append("Host: ").Append(context.Request.Host.Value).Append("\r\n");
        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (var value in values)
            {
                request.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }

        request.Append("Connection: Upgrade\r\nUpgrade: websocket\r\n");
        request.Append("X-Forwarded-Proto: ").Append(context.Request.Scheme).Append("\r\n");
        request.Append("X-Forwarded-Host: ").Append(context.Request.Host.Value).Append("\r\n");
        if (context.Connection.RemoteIpAddress is { } remote)
        {
            request.Append("X-Forwarded-For: ").Append(remote).Append("\r\n");
        }

        return request.Append("\r\n").ToString();
    }

    private static bool IsWebSocketRequest(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method)
        && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    public void Dispose() => _client.Dispose();
}
