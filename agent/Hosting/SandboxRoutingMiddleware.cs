using Sandboxd.Core;
using Sandboxd.Errors;

namespace Sandboxd.Hosting;

/// <summary>
/// Resolves the sandbox context once, before routing: <c>/s/&lt;subdomain&gt;/…</c> addresses a child (the prefix moves
/// to PathBase so every route works under it, <c>/ws</c> included); anything else is the main sandbox.
/// </summary>
internal sealed class SandboxRoutingMiddleware(RequestDelegate next, SandboxRegistry registry, AgentOptions options, Auth.TokenValidator tokens)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (options.SandboxDomain is { } domain && context.Request.Host.Host.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase))
        {
            var label = context.Request.Host.Host[..^(domain.Length + 1)];
            if (registry.TryGetChild(label, out var byHost))
            {
                context.Features.Set(byHost);
                return next(context);
            }

            if (!Authenticated(context))
            {
                // Answered as a known child would be (public routes as for an empty child, the rest 401), so an
                // anonymous client cannot tell which subdomains exist.
                context.Features.Set(registry.Unknown(label));
                return next(context);
            }
        }

        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith("/s/", StringComparison.Ordinal))
        {
            var end = path.IndexOf('/', 3);
            var subdomain = end < 0 ? path[3..] : path[3..end];
            if (!registry.TryGetChild(subdomain, out var child))
            {
                if (Authenticated(context))
                {
                    return Api.WriteErrorAsync(context, ErrorKind.NotFound, $"No sandbox with subdomain '{subdomain}'.");
                }

                // Without a valid token, do not reveal which subdomains exist: route it like a known, empty child.
                child = registry.Unknown(subdomain);
            }

            context.Request.PathBase = context.Request.PathBase.Add(path[..(end < 0 ? path.Length : end)]);
            context.Request.Path = end < 0 ? "/" : path[end..];
            context.Features.Set(child);
            return next(context);
        }

        context.Features.Set(registry.Main);
        return next(context);
    }

    private bool Authenticated(HttpContext context) => tokens.Validate(Auth.TokenSources.Find(context.Request)) is not null;
}
