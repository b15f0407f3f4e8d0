using System.Net;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Preview;

namespace Sandboxd.Hosting;

/// <summary>
/// With <c>--insecure-no-auth</c> nothing proves who is calling, so the agent at least refuses what only a web page
/// would send (docs/security.md): a cross-site <c>Origin</c> (a simple POST from any page) and a <c>Host</c> that is not
/// one of the agent's own names (DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1). Allowed
/// hosts: loopback names and addresses, the bound address, the <c>--host</c> name, the <c>--public-url</c> host, the
/// preview template's hosts and the <c>--sandbox-domain</c>. Allowed origins: the request's own (after the Host check),
/// the <c>--public-url</c> origin and every <c>--allowed-redirect-origin</c>.
/// </summary>
internal sealed class NoAuthGuardMiddleware(RequestDelegate next, AgentOptions options, PreviewRouting previews)
{
    private readonly string? _publicHost = Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var url) ? url.Host : null;
    private readonly string? _publicOrigin = Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var url) ? url.GetLeftPart(UriPartial.Authority) : null;
    private readonly string? _previewHost = FixedPreviewHost(options.PreviewUrlTemplate);

    public Task InvokeAsync(HttpContext context)
    {
        if (!IsOwnHost(context))
        {
            return Api.WriteErrorAsync(context, ErrorKind.Forbidden,
                $"forbidden: Host '{context.Request.Host}' is not a name of this agent (it runs with --insecure-no-auth, so only loopback names, the bound address, --public-url and the preview/sandbox domains are served)");
        }

        if (!IsOwnOrigin(context))
        {
            return Api.WriteErrorAsync(context, ErrorKind.Forbidden,
                $"forbidden: Origin '{context.Request.Headers.Origin}' may not call this agent (it runs with --insecure-no-auth); add it with --allowed-redirect-origin or call without a browser");
        }

        return next(context);
    }

    private bool IsOwnHost(HttpContext context)
    {
        var host = context.Request.Host.Host;
        if (host.Length == 0)
        {
            return true; // HTTP/1.0 without Host: not a browser
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            // An address cannot be rebound; it must still be one this agent answers on.
            return IPAddress.IsLoopback(address) || address.Equals(context.Connection.LocalIpAddress)
                || (IPAddress.TryParse(options.Host, out var bound) && address.Equals(bound));
        }

        return host.Equals(options.Host, StringComparison.OrdinalIgnoreCase)
            || host.Equals(_publicHost, StringComparison.OrdinalIgnoreCase)
            || host.Equals(_previewHost, StringComparison.OrdinalIgnoreCase)
            || previews.TryMatchHost(context.Request, out _)
            || (options.SandboxDomain is { } domain
                && (host.Equals(domain, StringComparison.OrdinalIgnoreCase) || host.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase)));
    }

    private bool IsOwnOrigin(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true; // not a cross-origin browser request (browsers send Origin on every POST and CORS request)
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false; // "null" (sandboxed frames, file://) and garbage
        }

        var normalized = uri.GetLeftPart(UriPartial.Authority);
        return string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)
            || string.Equals(normalized, _publicOrigin, StringComparison.OrdinalIgnoreCase)
            || options.AllowedRedirectOrigins.Any(o => string.Equals(o, normalized, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The host of a template such as <c>https://preview.example.com/{port}</c> (no placeholder in the host), else null.</summary>
    private static string? FixedPreviewHost(string template) =>
        template.Split("://", 2) is [_, var rest] && rest.Split('/', 2)[0].Split(':')[0] is { Length: > 0 } host && !host.Contains('{', StringComparison.Ordinal)
            ? host
            : null;
}
