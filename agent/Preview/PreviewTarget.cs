using System.Globalization;
using Microsoft.AspNetCore.Http.Features;

namespace Sandboxd.Preview;

/// <summary>
/// The request target a preview forwards: the client's raw target (as it came off the wire, still percent-encoded)
/// minus the <c>/preview/&lt;port&gt;</c> prefix, with the agent's own credentials taken out of the query. Never the
/// decoded path: decoded, <c>%0D%0A</c> becomes a line break in the upstream's request line and <c>%23</c>/<c>%3F</c>
/// cut the path.
/// </summary>
internal static class PreviewTarget
{
    /// <summary>Query parameters that carry the agent's credentials (the token, a magic link's hand-over) and never reach the app.</summary>
    private static readonly string[] AgentParameters = ["token", "session_token", "sandbox_url"];

    /// <summary>The raw target: origin-form as sent (an absolute-form target loses its scheme and authority).</summary>
    public static string Raw(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            return context.Request.Path.ToUriComponent() + context.Request.QueryString;
        }

        if (!raw.StartsWith('/') && Uri.TryCreate(raw, UriKind.Absolute, out var absolute))
        {
            raw = absolute.PathAndQuery; // absolute-form (a proxy-style request line); Kestrel routes by its path
        }

        return raw;
    }

    /// <summary>
    /// Matches <c>/preview/&lt;port&gt;[/…][?…]</c> on the raw target; <paramref name="rest"/> is what follows the
    /// port (at least "/"). The decoded path must agree on the port, so dot segments or an encoded prefix that the
    /// decoder would resolve elsewhere are not a second way in.
    /// </summary>
    public static bool TryMatchPath(HttpContext context, out int port, out string rest)
    {
        port = 0;
        rest = "/";
        var decoded = context.Request.Path.Value ?? "";
        if (!decoded.StartsWith("/preview/", StringComparison.Ordinal))
        {
            return false;
        }

        var end = decoded.IndexOf('/', 9);
        if (!int.TryParse(end < 0 ? decoded[9..] : decoded[9..end], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is <= 0 or >= 65536)
        {
            return false;
        }

        var raw = Raw(context);
        var prefix = "/preview/" + (end < 0 ? decoded[9..] : decoded[9..end]);
        if (!raw.StartsWith(prefix, StringComparison.Ordinal) || (raw.Length > prefix.Length && raw[prefix.Length] is not ('/' or '?')))
        {
            rest = "";
            return true; // a preview path, but not spelled plainly: refused by the caller
        }

        rest = raw[prefix.Length..];
        if (rest.Length == 0 || rest[0] == '?')
        {
            rest = "/" + rest;
        }

        return true;
    }

    /// <summary>True when the decoded path holds a line break or NUL (a request-splitting attempt).</summary>
    public static bool HasControlCharacters(HttpContext context) =>
        (context.Request.Path.Value ?? "").AsSpan().IndexOfAny('\r', '\n', '\0') >= 0;

    /// <summary>The raw target with the agent's credential parameters removed from its query; the rest byte for byte.</summary>
    public static string WithoutAgentParameters(string target)
    {
        var question = target.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return target;
        }

        var kept = target[(question + 1)..].Split('&').Where(pair => !IsAgentParameter(pair)).ToList();
        return kept.Count == 0 || (kept.Count == 1 && kept[0].Length == 0)
            ? target[..question]
            : target[..question] + "?" + string.Join('&', kept);
    }

    private static bool IsAgentParameter(string pair)
    {
        var key = pair.Split('=', 2)[0];
        try
        {
            key = Uri.UnescapeDataString(key.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return false;
        }

        return AgentParameters.Contains(key, StringComparer.Ordinal);
    }
}
