using System.Net;
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

        CopyRequestHeaders(context, request);
        return request;
    }

    /// <summary>Every header of the client's but the hop-by-hop ones (credentials included: the agent authenticates),
    /// plus Host and the X-Forwarded-* trio.</summary>
    private static void CopyRequestHeaders(HttpContext context, HttpRequestMessage request)
    {
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
    /// after a 101 the bytes are copied both ways (<see cref="UpgradeForwarder"/>, shared with the agent's preview proxy).
    /// No hashing or masking here, and whatever the two ends negotiate — permessage-deflate, a subprotocol — works end
    /// to end.
    /// </summary>
    private Task TunnelWebSocketAsync(HttpContext context, Uri agent, string pathAndQuery, CancellationToken cancellationToken) =>
        _upgrades.ForwardAsync(context, new Uri(agent.GetLeftPart(UriPartial.Authority) + pathAndQuery), request => CopyRequestHeaders(context, request),
            reason => Api.WriteErrorAsync(context, StatusCodes.Status502BadGateway, $"WebSocket upgrade to the sandbox's agent failed: {reason}"),
            cancellationToken);

    private static bool IsWebSocketRequest(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method)
        && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    public void Dispose()
    {
        _client.Dispose();
        _upgrades.Dispose();
    }
}
