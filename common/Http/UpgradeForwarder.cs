using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Sandboxd.Http;

/// <summary>
/// Forwards a WebSocket upgrade through <see cref="SocketsHttpHandler"/>, as YARP's forwarder does: the client's
/// handshake goes upstream as an HTTP/1.1 request with <c>Connection: Upgrade</c>, and after the upstream's 101 the
/// response content is the raw, two-way connection, pumped byte for byte by <see cref="TunnelPump"/>. No request line
/// or response head is written or parsed by hand (the handler refuses CR/LF in header values and writes the target
/// from the <see cref="Uri"/>, which keeps the client's percent-encoding). Shared by the agent's preview proxy and the
/// gateway's one-origin proxy; each decides which of the client's headers go upstream.
/// </summary>
public sealed class UpgradeForwarder : IDisposable
{
    private static readonly HttpRequestOptionsKey<StrongBox<Socket?>> SocketKey = new("sandboxd.upstream-socket");

    private const long MaxRefusalBody = 1024 * 1024;

    private static readonly HashSet<string> ResponseHopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length",
    };

    private readonly TimeSpan _handshakeTimeout;

    // Upgraded connections never go back to a pool, and one that answered a refusal is not reused either: every
    // upgrade gets a connection of its own, opened by the callback below, so the socket to half-close is known.
    private readonly HttpMessageInvoker _client;

    public UpgradeForwarder(TimeSpan handshakeTimeout)
    {
        _handshakeTimeout = handshakeTimeout;
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = handshakeTimeout,
            PooledConnectionLifetime = TimeSpan.Zero,
            PooledConnectionIdleTimeout = TimeSpan.Zero,
            ConnectCallback = ConnectAsync,
        });
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        if (context.InitialRequestMessage.Options.TryGetValue(SocketKey, out var box))
        {
            box.Value = socket;
        }

        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Sends the upgrade to <paramref name="target"/> and relays the outcome: the upstream's refusal (status, headers and
    /// up to 1 MiB of body) or, after its 101, the tunnel until either side ends. Failures to reach the upstream or a
    /// handshake that takes longer than the timeout go to <paramref name="fail"/> (the caller writes its 502).
    /// </summary>
    /// <param name="context">The client's request, an upgradable GET.</param>
    /// <param name="target">The upstream URI (absolute, with the client's raw path and query).</param>
    /// <param name="copyHeaders">Adds the client's headers the caller forwards (never the hop-by-hop ones).</param>
    /// <param name="fail">Writes the caller's 502 with the reason.</param>
    /// <param name="cancellationToken">Ends the exchange (the client went away or the service stops).</param>
    public async Task ForwardAsync(HttpContext context, Uri target, Action<HttpRequestMessage> copyHeaders, Func<string, Task> fail,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(copyHeaders);
        ArgumentNullException.ThrowIfNull(fail);
        using var request = new HttpRequestMessage(HttpMethod.Get, target)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var socket = new StrongBox<Socket?>();
        request.Options.Set(SocketKey, socket);
        copyHeaders(request);
        request.Headers.Connection.Clear();
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Clear();
        request.Headers.TryAddWithoutValidation("Upgrade", "websocket");
        request.Headers.Host = context.Request.Host.Value;

        HttpResponseMessage response;
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            handshake.CancelAfter(_handshakeTimeout);
            try
            {
                response = await _client.SendAsync(request, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                await fail(e is OperationCanceledException ? $"no answer within {_handshakeTimeout.TotalSeconds:0} s" : e.Message).ConfigureAwait(false);
                return;
            }
        }

        using (response)
        {
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!ResponseHopByHop.Contains(name))
                {
                    context.Response.Headers.Append(name, values.ToArray());
                }
            }

            var upstream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (upstream.ConfigureAwait(false))
            {
                if (response.StatusCode != HttpStatusCode.SwitchingProtocols || socket.Value is null)
                {
                    // Refused (401, 404, 400…): the client gets the upstream's answer, its body bounded.
                    context.Response.StatusCode = (int)response.StatusCode;
                    await CopyBoundedAsync(upstream, context.Response.Body, MaxRefusalBody, cancellationToken).ConfigureAwait(false);
                    return;
                }

                var downstream = await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync().ConfigureAwait(false);
                await TunnelPump.RunAsync(downstream, upstream, socket.Value, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task CopyBoundedAsync(Stream from, Stream to, long limit, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (limit > 0)
            {
                var read = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                limit -= read;
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // the upstream cut its refusal short: the client has what came
        }
    }

    public void Dispose() => _client.Dispose();
}
