using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Sandboxd.Errors;

namespace Sandboxd.WebSockets;

/// <summary>
/// The server side of the WebSocket handshake (RFC 6455 §4.2), done by the agent instead of ASP.NET Core's WebSocket
/// middleware: that middleware computes Sec-WebSocket-Accept with the runtime's SHA-1, which is OpenSSL, and on a system
/// without libssl (a slim image, a minimal rootfs) the runtime aborted the whole agent — and every process it ran — on
/// the first WebSocket request ("No usable version of libssl was found"). Here: the request is checked, the accept key
/// is computed with <see cref="Hashing.Sha1"/>, Kestrel upgrades the connection and the runtime's managed WebSocket (no OpenSSL
/// on the server side) speaks the frames, with protocol-level keepalive pings (daemon-websocket.md §7).
/// </summary>
internal static class WebSocketUpgrade
{
    /// <summary>Ping every 30 s; a socket that has not answered (pong) within 60 s is half-open and gets closed.</summary>
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(60);
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>An HTTP/1.1 GET asking to upgrade to websocket (it may still be malformed: see <see cref="Problem"/>).</summary>
    public static bool IsWebSocketRequest(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method)
        && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && HasToken(context.Request.Headers.Connection, "upgrade")
        && HasToken(context.Request.Headers.Upgrade, "websocket");

    /// <summary>Why a WebSocket request cannot be accepted, as (kind, message); null when it can.</summary>
    public static (ErrorKind Kind, string Message)? Problem(HttpContext context)
    {
        var headers = context.Request.Headers;
        if (headers.SecWebSocketVersion.ToString() != "13")
        {
            context.Response.Headers.SecWebSocketVersion = "13";
            return (ErrorKind.UpgradeRequired, $"Unsupported Sec-WebSocket-Version '{headers.SecWebSocketVersion}': only 13 (RFC 6455) is spoken.");
        }

        Span<byte> key = stackalloc byte[24];
        if (!Convert.TryFromBase64String(headers.SecWebSocketKey.ToString(), key, out var length) || length != 16)
        {
            return (ErrorKind.Invalid, "Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455 §4.1).");
        }

        return null;
    }

    /// <summary>Answers 101 and returns the server end of the socket. Call only when <see cref="Problem"/> is null.</summary>
    public static async Task<WebSocket> AcceptAsync(HttpContext context, string? subProtocol = null)
    {
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
        if (subProtocol is not null)
        {
            headers.SecWebSocketProtocol = subProtocol;
        }

        var stream = await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync().ConfigureAwait(false);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subProtocol,
            KeepAliveInterval = KeepAliveInterval,
            KeepAliveTimeout = KeepAliveTimeout,
        });
    }

    /// <summary>Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)).</summary>
    public static string AcceptKey(string key) => Convert.ToBase64String(Hashing.Sha1.Hash(Encoding.ASCII.GetBytes(key.Trim() + AcceptGuid)));

    private static bool HasToken(StringValues values, string token)
    {
        foreach (var value in values)
        {
            foreach (var part in (value ?? "").Split(','))
            {
                if (part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
