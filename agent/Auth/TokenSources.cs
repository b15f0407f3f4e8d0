using Sandboxd.Core;
namespace Sandboxd.Auth;

/// <summary>Where a request's token comes from, in the spec's precedence: Bearer header, <c>token</c> query, <c>session_token</c> cookie.</summary>
internal static class TokenSources
{
    public const string CookieName = "session_token";

    public static string? Find(HttpRequest request) => Find(request, out _);

    public static string? Find(HttpRequest request, out TokenSource source)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var value = header["Bearer ".Length..].Trim();
            if (value.Length > 0)
            {
                source = TokenSource.Header;
                return value;
            }
        }

        if (request.Query.TryGetValue("token", out var query) && query.ToString() is { Length: > 0 } fromQuery)
        {
            source = TokenSource.Query;
            return fromQuery;
        }

        if (request.Cookies.TryGetValue(CookieName, out var cookie) && !string.IsNullOrEmpty(cookie))
        {
            source = TokenSource.Cookie;
            return cookie;
        }

        source = TokenSource.None;
        return null;
    }
}
