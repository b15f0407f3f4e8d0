using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Proxy;

/// <summary>
/// One-origin mode (<c>--public-url</c>): <c>/sandboxes/&lt;id&gt;/…</c> is the sandbox's agent, HTTP and WebSocket, so a
/// deployment needs one open port. The agent authenticates (its token travels in the request as usual); the gateway
/// only looks the sandbox up. Without <c>--public-url</c> the path is not served.
/// </summary>
internal sealed class ProxyMiddleware(RequestDelegate next, GatewayOptions options, ISandboxStore store, SandboxProxy proxy)
{
    public const string Prefix = "/sandboxes";

    public async Task InvokeAsync(HttpContext context)
    {
        if (options.PublicUrl is null || !context.Request.Path.StartsWithSegments(Prefix, out var rest) || !rest.HasValue)
        {
            await next(context);
            return;
        }

        var path = rest.Value![1..];
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var id = slash < 0 ? path : path[..slash];
        var remainder = slash < 0 ? "/" : path[slash..];
        var record = await store.GetAsync(id, context.RequestAborted);
        if (record is not { Status: SandboxStatus.Ready, Url: { } url })
        {
            await Api.WriteErrorAsync(context, StatusCodes.Status404NotFound, $"Sandbox {id} not found.");
            return;
        }

        await proxy.ForwardAsync(context, new Uri(url), remainder + context.Request.QueryString, context.RequestAborted);
    }

    /// <summary>The URL handed out for a sandbox: through this gateway in one-origin mode, else the agent's own.</summary>
    public static string PublicUrl(GatewayOptions options, SandboxRecord record) =>
        options.PublicUrl is { } origin ? $"{origin}{Prefix}/{record.Id}" : record.Url ?? "";
}
