using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using Microsoft.AspNetCore.Http;
using Sandboxd.Core;
using Sandboxd.Preview;

namespace Sandboxd.Tests.Preview;

/// <summary>
/// Preview-by-Host routing replaced a regex built from the URL template with a matcher of its own (the regex engines
/// were ≈ 0.4 MB of the binary: docs/adr/0012-footprint.md). Checked against that regex, verbatim, for templates ×
/// hosts that exercise every placeholder, ambiguity (a subdomain with '-' and digits before "-{port}") and case.
/// </summary>
public sealed class PreviewHostMatchTests
{
    private static readonly string[] Templates =
    [
        "http://{subdomain}-{port}.localtest.me", "https://{port}-{subdomain}.preview.example.com/x", "http://p{port}.{host}",
        "http://{port}.{host}:8080", "https://{subdomain}.{port}.example.com", "http://{port}x{port}.example.com", "http://a-{port}",
        "http://localhost:{port}", "http://{port}",
    ];

    private static readonly string[] Hosts =
    [
        "main-3000.localtest.me", "MAIN-3000.LOCALTEST.ME", "a-b-1-3000.localtest.me", "a-3000", "main-123456.localtest.me",
        "main-0.localtest.me", "main-65536.localtest.me", "-3000.localtest.me", "x_y-3000.localtest.me", "3000-sb.preview.example.com",
        "3000-a-b.preview.example.com", "p8080.anything.here", "p80.", "p.x", "5173.box", "sb.4000.example.com", "12x345.example.com",
        "1x2x3.example.com", "a-99999", "a-", "localhost", "3000", "main-3000.localtest.me.evil", "main-30a0.localtest.me",
    ];

    [Fact]
    public void Every_template_and_host_gives_the_port_the_regex_gave()
    {
        foreach (var template in Templates)
        {
            var routing = new PreviewRouting(new AgentOptions { PreviewUrlTemplate = template });
            var reference = Reference(template);
            foreach (var host in Hosts)
            {
                var context = new DefaultHttpContext();
                context.Request.Host = new HostString(host);
                var matched = routing.TryMatchHost(context.Request, out var port);
                var expected = reference is not null && ReferenceMatch(reference, host, out var expectedPort) ? expectedPort : (int?)null;
                (matched ? port : (int?)null).Should().Be(expected, $"template '{template}', host '{host}'");
            }
        }
    }

    /// <summary>The agent's previous implementation, verbatim (with \z for $: see GlobMatchTests).</summary>
    private static Regex? Reference(string template)
    {
        if (template.Split("://", 2) is [_, var rest])
        {
            var hostPart = rest.Split('/', 2)[0].Split(':')[0];
            if (hostPart.Contains("{port}", StringComparison.Ordinal) && hostPart != "{port}")
            {
                var pattern = "^" + Regex.Escape(hostPart)
                    .Replace(Regex.Escape("{port}"), "(?<port>[0-9]{1,5})", StringComparison.Ordinal)
                    .Replace(Regex.Escape("{subdomain}"), "(?<subdomain>[A-Za-z0-9-]+?)", StringComparison.Ordinal)
                    .Replace(Regex.Escape("{host}"), "[^:]+", StringComparison.Ordinal) + @"\z";
                return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
            }
        }

        return null;
    }

    private static bool ReferenceMatch(Regex regex, string host, out int port)
    {
        port = 0;
        var match = regex.Match(host);
        return match.Success && int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 65536;
    }
}
