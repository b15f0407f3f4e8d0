using Sandboxd.Core;
using Sandboxd.Errors;
namespace Sandboxd.Auth;

/// <summary>
/// The one place where tokens are checked, after routing and before any handler (WebSocket upgrades included, so a
/// bad token never gets a 101). Public endpoints pass; everything else — unknown routes too — needs a valid token;
/// token and magic-link management needs the access token (403 for a session token). A request authenticated only
/// by the session cookie must come from the agent's own origin when it changes state or opens a WebSocket (CSRF), and
/// never from a preview page. A session token's request or WebSocket ends when the token is revoked or expires.
/// </summary>
internal sealed class AuthMiddleware(RequestDelegate next, TokenValidator validator, SessionTokens sessions)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var token = TokenSources.Find(context.Request, out var source);
        var principal = validator.Validate(token);
        if (principal is not null)
        {
            principal = principal with { Source = source };
            context.Features.Set(principal);
        }

        if (endpoint?.Metadata.GetMetadata<PublicEndpoint>() is not null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (principal is null)
        {
            await Api.WriteErrorAsync(context, ErrorKind.Unauthorized,
                token is null ? "unauthorized: send Authorization: Bearer <token>" : "unauthorized: the token is invalid, expired or revoked").ConfigureAwait(false);
            return;
        }

        if (principal.Kind == TokenKind.SessionToken && endpoint?.Metadata.GetMetadata<AccessTokenOnlyEndpoint>() is not null)
        {
            await Api.WriteErrorAsync(context, ErrorKind.Forbidden,
                "forbidden: managing session tokens and magic links needs the access token, not a session token").ConfigureAwait(false);
            return;
        }

        if (source == TokenSource.Cookie && IsUnsafe(context.Request) && !IsSameOrigin(context.Request))
        {
            await Api.WriteErrorAsync(context, ErrorKind.Forbidden,
                "forbidden: a cookie-authenticated request that changes state must come from this agent's own origin (Origin header), or send the token as a header").ConfigureAwait(false);
            return;
        }

        if (source == TokenSource.Cookie && FromAnotherPage(context.Request) is { } page)
        {
            await Api.WriteErrorAsync(context, ErrorKind.Forbidden,
                $"forbidden: the session cookie is not accepted from {page}; previews cannot act as the API (send the token as a header)").ConfigureAwait(false);
            return;
        }

        if (principal.SessionTokenId is not null)
        {
            // Revoking the token, or its expiry, cuts this request (a WebSocket, a long-poll, a proxied stream) at once.
            using var validity = sessions.WhileValid(principal, context.Abort);
            await next(context).ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    private static bool IsUnsafe(HttpRequest request) =>
        !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        || WebSockets.WebSocketUpgrade.IsWebSocketRequest(request.HttpContext);

    /// <summary>
    /// Why a cookie-carrying request looks like it comes from a page other than the agent's own (a preview), or null:
    /// an opaque <c>Origin: null</c> (what a path preview's sandboxed page sends), a <c>Referer</c> under
    /// <c>/preview/</c> on this host, or a browser's <c>Sec-Fetch-Site</c> of another site (a host-pattern preview is
    /// "same-site") for anything but a top-level navigation.
    /// </summary>
    internal static string? FromAnotherPage(HttpRequest request)
    {
        if (request.Headers.Origin.ToString() == "null")
        {
            return "a page with an opaque origin (Origin: null)";
        }

        if (Uri.TryCreate(request.Headers.Referer.ToString(), UriKind.Absolute, out var referer)
            && string.Equals(referer.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)
            && referer.AbsolutePath.StartsWith("/preview/", StringComparison.Ordinal))
        {
            return "a preview page (Referer under /preview/)";
        }

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site is "cross-site" or "same-site" && request.Headers["Sec-Fetch-Mode"].ToString() != "navigate")
        {
            return $"another site's page (Sec-Fetch-Site: {site})";
        }

        return null;
    }

    internal static bool IsSameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return request.Headers["Sec-Fetch-Site"].ToString() == "same-origin";
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
