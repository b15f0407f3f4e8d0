using System.Collections.Concurrent;

namespace Sandboxd.Auth;

/// <summary>One-time, five-minute codes that turn into a session cookie in a browser.</summary>
internal sealed class MagicLinks(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private sealed record Link(string RedirectUrl, string BaseUrl, DateTime ExpiresAt)
    {
        public bool Used { get; set; }
    }

    private readonly ConcurrentDictionary<string, Link> _links = new(StringComparer.Ordinal);

    public (string Code, DateTime ExpiresAt) Create(string redirectUrl, string baseUrl)
    {
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var (code, link) in _links)
        {
            if (link.ExpiresAt.AddMinutes(10) < now)
            {
                _links.TryRemove(code, out _); // keep used/expired codes a while to answer 410, then forget
            }
        }

        var created = AccessTokens.Generate("").TrimStart('_');
        var expires = now + Lifetime;
        _links[created] = new Link(redirectUrl, baseUrl, expires);
        return (created, expires);
    }

    public enum Outcome { Valid, Unknown, Spent }

    /// <summary>Consumes a code: valid exactly once, within its lifetime.</summary>
    public Outcome TryConsume(string code, out string redirectUrl, out string baseUrl)
    {
        redirectUrl = "";
        baseUrl = "";
        if (!_links.TryGetValue(code, out var link))
        {
            return Outcome.Unknown;
        }

        lock (link)
        {
            if (link.Used || link.ExpiresAt <= time.GetUtcNow().UtcDateTime)
            {
                return Outcome.Spent;
            }

            link.Used = true;
        }

        redirectUrl = link.RedirectUrl;
        baseUrl = link.BaseUrl;
        return Outcome.Valid;
    }
}
