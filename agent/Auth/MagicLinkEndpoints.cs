using System.Net;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Protocol;

namespace Sandboxd.Auth;

internal static class MagicLinkEndpoints
{
    public const string DefaultRedirect = "/play/";

    public static async Task<Results<JsonHttpResult<Envelope<MagicLinkData>>, JsonHttpResult<ErrorResponse>>> CreateAsync(HttpContext http, MagicLinks links, PublicUrls urls, AgentOptions options, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadOptionalAsync(http.Request, ProtocolJsonContext.Default.CreateMagicLinkRequest, cancellationToken);

        var redirect = string.IsNullOrEmpty(body?.RedirectUrl) ? DefaultRedirect : body.RedirectUrl;
        var baseUrl = urls.BaseUrl(http);
        if (!IsAllowedRedirect(redirect, baseUrl, options.AllowedRedirectOrigins))
        {
            return Api.BadRequest($"redirectUrl {redirect} is not allowed: use a path on this agent or an origin given with --allowed-redirect-origin.");
        }

        var (code, expires) = links.Create(redirect, baseUrl);
        return Api.Ok(new MagicLinkData($"{baseUrl}/auth/magic/{code}", expires, redirect), ProtocolJsonContext.Default.EnvelopeMagicLinkData,
            "magic link created", StatusCodes.Status201Created);
    }

    /// <summary>
    /// Paths on this agent, this agent's origin, or an allow-listed origin — nothing else (no open redirect). Control
    /// characters, whitespace and backslashes are refused anywhere, raw or percent-encoded: browsers drop tabs and line
    /// breaks and read "\" as "/", so <c>"/\t/evil.com"</c> would resolve to <c>//evil.com</c>. What is left is resolved
    /// against the agent's URL and its authority compared, so no spelling reaches another host.
    /// </summary>
    internal static bool IsAllowedRedirect(string redirect, string baseUrl, IReadOnlyList<string> allowedOrigins)
    {
        if (HasUnsafeCharacters(redirect) || !Uri.TryCreate(baseUrl, UriKind.Absolute, out var own))
        {
            return false;
        }

        Uri? target;
        if (redirect.StartsWith('/'))
        {
            if (redirect.StartsWith("//", StringComparison.Ordinal) || !Uri.TryCreate(own, redirect, out target))
            {
                return false;
            }
        }
        else if (!Uri.TryCreate(redirect, UriKind.Absolute, out target))
        {
            return false;
        }

        if (target.Scheme is not ("http" or "https"))
        {
            return false;
        }

        var origin = target.GetLeftPart(UriPartial.Authority);
        return string.Equals(origin, own.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase)
            || allowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>A control character, whitespace or backslash in the text or in any percent-decoding of it.</summary>
    private static bool HasUnsafeCharacters(string text)
    {
        for (var round = 0; round < 4; round++)
        {
            if (text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '\\'))
            {
                return true;
            }

            var decoded = Uri.UnescapeDataString(text);
            if (decoded == text)
            {
                return false;
            }

            text = decoded;
        }

        return true; // encoded four times over: not a link anyone needs
    }

    /// <summary><c>GET /auth/magic/{code}</c>: one use within five minutes ⇒ session cookie + 302 to the redirect URL.</summary>
    public static Results<RedirectHttpResult, ContentHttpResult, JsonHttpResult<ErrorResponse>> Land(string code, HttpContext http, MagicLinks links, SessionTokens tokens)
    {
        switch (links.TryConsume(code, out var redirect, out var baseUrl))
        {
            case MagicLinks.Outcome.Unknown:
                return Refuse(http, ErrorKind.NotFound, "This magic link does not exist.");
            case MagicLinks.Outcome.Spent:
                return Refuse(http, ErrorKind.Gone, "magic link expired or already used");
        }

        var (_, secret) = tokens.Create("magic link", SessionTokens.DefaultLifetimeSeconds);
        http.Response.Cookies.Append(TokenSources.CookieName, secret, new CookieOptions
        {
            Path = "/",
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = http.Request.IsHttps || baseUrl.StartsWith("https:", StringComparison.OrdinalIgnoreCase),
            MaxAge = TimeSpan.FromSeconds(SessionTokens.DefaultLifetimeSeconds),
        });
        http.Response.Headers.CacheControl = "no-store";
        var location = QueryHelpers.AddQueryString(redirect, new Dictionary<string, string?> { ["session_token"] = secret, ["sandbox_url"] = baseUrl });
        return TypedResults.Redirect(location);
    }

    private static Results<RedirectHttpResult, ContentHttpResult, JsonHttpResult<ErrorResponse>> Refuse(HttpContext http, ErrorKind kind, string message)
    {
        if (http.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
        {
            var html = $"""
                <!doctype html><html><head><meta charset="utf-8"><title>sandboxd — link not valid</title>
                <style>body{"{"}font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;color:#222{"}"}</style></head>
                <body><h1>This link cannot be used</h1><p>{WebUtility.HtmlEncode(message)}.</p>
                <p>Magic links work once, within five minutes. Ask for a new one.</p></body></html>
                """;
            return TypedResults.Content(html, "text/html; charset=utf-8", statusCode: Api.StatusOf(kind));
        }

        return Api.Error(kind, message);
    }
}
