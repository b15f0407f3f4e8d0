using System.Globalization;
using System.Text.RegularExpressions;
using Sandboxd.Core;

namespace Sandboxd.Preview;

/// <summary>
/// Recognises preview requests: by Host when the preview URL template has a host pattern with <c>{port}</c>
/// (e.g. <c>https://{subdomain}-{port}.preview.example.com</c>), and by path <c>/preview/&lt;port&gt;/…</c> always.
/// </summary>
internal sealed class PreviewRouting
{
    private readonly Regex? _host;

    public PreviewRouting(AgentOptions options)
    {
        if (options.PreviewUrlTemplate.Split("://", 2) is [_, var rest])
        {
            var hostPart = rest.Split('/', 2)[0].Split(':')[0];
            if (hostPart.Contains("{port}", StringComparison.Ordinal) && hostPart != "{port}")
            {
                var pattern = "^" + Regex.Escape(hostPart)
                    .Replace(Regex.Escape("{port}"), "(?<port>[0-9]{1,5})", StringComparison.Ordinal)
                    .Replace(Regex.Escape("{subdomain}"), "(?<subdomain>[A-Za-z0-9-]+?)", StringComparison.Ordinal)
                    .Replace(Regex.Escape("{host}"), "[^:]+", StringComparison.Ordinal) + "$";
                _host = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
            }
        }
    }

    public bool TryMatchHost(HttpRequest request, out int port)
    {
        port = 0;
        if (_host is null)
        {
            return false;
        }

        var match = _host.Match(request.Host.Host);
        return match.Success && int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 65536;
    }
}
