using System.Net;
using Microsoft.AspNetCore.WebUtilities;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Auth;

internal static class MagicLinkEndpoints
{
    public const string DefaultRedirect = "/play/";

    public static async Task<IResult> CreateAsync(HttpContext http, MagicLinks links, PublicUrls urls, AgentOptions options, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.CreateMagicLinkRequest, optional: true, cancellationToken);
        if (body.Error is not null)
        {
            return body.Error;
        }

        var redirect = string.IsNullOrEmpty(body.Value?.RedirectUrl) ? DefaultRedirect : body.Value.RedirectUrl;
        var baseUrl = urls.BaseUrl(http);
        if (!IsAllowedRedirect(redirect, baseUrl, options.AllowedRedirectOrigins))
        {
            return Api.BadRequest($"redirectUrl {redirect} is not allowed: use a path on this agent or an origin given with --allowed-redirect-origin.");
        }

        var (code, expires) = links.Create(redirect, baseUrl);
        return Api.Ok(new MagicLinkData($"{baseUrl}/auth/magic/{code}", expires, redirect), ProtocolJsonContext.Default.EnvelopeMagicLinkData,
            "magic link created", StatusCodes.Status201Created);
    }

    /// <summary>Relative paths on this agent, this agent's origin, or an allow-listed origin — nothing else (no open redirect).</summary>
    internal static bool IsAllowedRedirect(string redirect, string baseUrl, IReadOnlyList<string> allowedOrigins)
    {
        if (redirect.StartsWith('/') && !redirect.StartsWith("//", StringComparison.Ordinal) && !redirect.StartsWith("/\\", StringComparison.Ordinal))
        {
            return true;
        }

        if (!Uri.TryCreate(redirect, UriKind.Absolute, out var target) || target.Scheme is not ("http" or "https"))
        {
            return false;
        }

        var origin = target.GetLeftPart(UriPartial.Authority);
        return Uri.TryCreate(baseUrl, UriKind.Absolute, out var own) && string.Equals(origin, own.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase)
            || allowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary><c>GET /auth/magic/{code}</c>: one use within five minutes ⇒ session cookie + 302 to the redirect URL.</summary>
    public static IResult Land(string code, HttpContext http, MagicLinks links, SessionTokens tokens)
    {
        switch (links.TryConsume(code, out var redirect, out var baseUrl))
        {
            case MagicLinks.Outcome.Unknown:
                return Refuse(http, StatusCodes.Status404NotFound, "This magic link does not exist.");
            case MagicLinks.Outcome.Spent:
                return Refuse(http, StatusCodes.Status410Gone, "magic link expired or already used");
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

    private static IResult Refuse(HttpContext http, int status, string message)
    {
        if (http.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
        {
            var html = $"""
                <!doctype html><html><head><meta charset="utf-8"><title>sandboxd — link not valid</title>
                <style>body{"{"}font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;color:#222{"}"}</style></head>
                <body><h1>This link cannot be used</h1><p>{WebUtility.HtmlEncode(message)}.</p>
                <p>Magic links work once, within five minutes. Ask for a new one.</p></body></html>
                """;
            return TypedResults.Content(html, "text/html; charset=utf-8", statusCode: status);
        }

        return Api.Error(status, message);
    }
}
