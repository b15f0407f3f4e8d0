using System.Globalization;
using Sandboxd.Core;

namespace Sandboxd.Preview;

/// <summary>
/// Recognises preview requests: by Host when the preview URL template has a host pattern with <c>{port}</c>
/// (e.g. <c>https://{subdomain}-{port}.preview.example.com</c>), and by path <c>/preview/&lt;port&gt;/…</c> always.
/// </summary>
/// <remarks>
/// The host pattern is matched by a small backtracking matcher, not a regex (the regex engines were ≈ 0.4 MB of the
/// agent: docs/adr/0012-footprint.md). It tries the same alternatives in the same order as the regex it replaces,
/// <c>^literal(?&lt;port&gt;[0-9]{1,5})…(?&lt;subdomain&gt;[A-Za-z0-9-]+?)…[^:]+$</c> with IgnoreCase: <c>{port}</c> 1–5
/// digits, longest first; <c>{subdomain}</c> letters, digits and '-', shortest first; <c>{host}</c> anything but ':',
/// longest first; literals compared ignoring ASCII case.
/// </remarks>
internal sealed class PreviewRouting
{
    private readonly Part[]? _host;

    public PreviewRouting(AgentOptions options)
    {
        if (options.PreviewUrlTemplate.Split("://", 2) is [_, var rest])
        {
            var hostPart = rest.Split('/', 2)[0].Split(':')[0];
            if (hostPart.Contains("{port}", StringComparison.Ordinal) && hostPart != "{port}")
            {
                _host = Parse(hostPart);
            }
        }
    }

    private enum Kind : byte
    {
        Literal,
        Port,
        Subdomain,
        Host,
    }

    private readonly record struct Part(Kind Kind, string Text = "");

    public bool TryMatchHost(HttpRequest request, out int port)
    {
        port = 0;
        if (_host is null)
        {
            return false;
        }

        var portText = default(Range?);
        var host = request.Host.Host;
        return Match(_host, 0, host, 0, ref portText)
            && portText is { } r
            && int.TryParse(host.AsSpan()[r], NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and < 65536;
    }

    private static Part[] Parse(string pattern)
    {
        var parts = new List<Part>();
        var literalStart = 0;
        for (var i = 0; i < pattern.Length;)
        {
            var kind = pattern.AsSpan(i) switch
            {
                var s when s.StartsWith("{port}") => Kind.Port,
                var s when s.StartsWith("{subdomain}") => Kind.Subdomain,
                var s when s.StartsWith("{host}") => Kind.Host,
                _ => Kind.Literal,
            };
            if (kind == Kind.Literal)
            {
                i++;
                continue;
            }

            if (i > literalStart)
            {
                parts.Add(new Part(Kind.Literal, pattern[literalStart..i]));
            }

            parts.Add(new Part(kind));
            i = pattern.IndexOf('}', i) + 1;
            literalStart = i;
        }

        if (literalStart < pattern.Length)
        {
            parts.Add(new Part(Kind.Literal, pattern[literalStart..]));
        }

        return [.. parts];
    }

    /// <summary>Matches <paramref name="parts"/> from <paramref name="index"/> against all of <paramref name="text"/> from <paramref name="at"/>; the port's range is the last <c>{port}</c>'s.</summary>
    private static bool Match(Part[] parts, int index, string text, int at, ref Range? port)
    {
        if (index == parts.Length)
        {
            return at == text.Length;
        }

        var part = parts[index];
        switch (part.Kind)
        {
            case Kind.Literal:
                return at + part.Text.Length <= text.Length
                    && string.Compare(text, at, part.Text, 0, part.Text.Length, StringComparison.OrdinalIgnoreCase) == 0
                    && Match(parts, index + 1, text, at + part.Text.Length, ref port);
            case Kind.Port:
                var digits = 0;
                while (digits < 5 && at + digits < text.Length && char.IsAsciiDigit(text[at + digits]))
                {
                    digits++;
                }

                for (var length = digits; length >= 1; length--)
                {
                    var saved = port;
                    port = at..(at + length);
                    if (Match(parts, index + 1, text, at + length, ref port))
                    {
                        return true;
                    }

                    port = saved;
                }

                return false;
            case Kind.Subdomain:
                for (var end = at + 1; end <= text.Length && (char.IsAsciiLetterOrDigit(text[end - 1]) || text[end - 1] == '-'); end++)
                {
                    if (Match(parts, index + 1, text, end, ref port))
                    {
                        return true;
                    }
                }

                return false;
            default: // Host
                var stop = text.IndexOf(':', at);
                for (var end = stop < 0 ? text.Length : stop; end > at; end--)
                {
                    if (Match(parts, index + 1, text, end, ref port))
                    {
                        return true;
                    }
                }

                return false;
        }
    }
}
