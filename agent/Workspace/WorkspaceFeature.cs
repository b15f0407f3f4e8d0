using System.Reflection;
using Sandboxd.Auth;
using Sandboxd.Core;

namespace Sandboxd.Workspace;

/// <summary>
/// The built-in browser workspace (terminal, file tree, servers), embedded in the binary and served at <c>/play/</c>
/// and <c>/workspace/</c>. The assets hold no secret, so they are public; everything they call needs the session.
/// </summary>
internal static class WorkspaceFeature
{
    private const string Prefix = "Sandboxd.Workspace.wwwroot.";

    public static IEndpointRouteBuilder MapWorkspace(this IEndpointRouteBuilder routes)
    {
        foreach (var root in new[] { "/play", "/workspace" })
        {
            // Routing ignores a trailing slash, so "/play" also matches "/play/": serve the page there, redirect only "/play".
            routes.MapGet(root, (HttpContext http) => http.Request.Path.Value!.EndsWith('/')
                ? Serve(null)
                : TypedResults.Redirect(root + "/" + http.Request.QueryString)).AllowAnonymousAgent();
            routes.MapGet(root + "/{**asset}", Serve).AllowAnonymousAgent();
        }

        return routes;
    }

    private static IResult Serve(string? asset)
    {
        var name = string.IsNullOrEmpty(asset) ? "index.html" : asset;
        if (name.Contains("..", StringComparison.Ordinal))
        {
            return Api.NotFound("No such asset.");
        }

        var stream = typeof(WorkspaceFeature).Assembly.GetManifestResourceStream(Prefix + name.Replace('/', '.'));
        if (stream is null)
        {
            return Api.NotFound($"No such asset: {name}");
        }

        var type = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            ".json" => "application/json",
            ".txt" => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        return TypedResults.Stream(stream, type);
    }

    /// <summary>All embedded asset names (for tests and diagnostics).</summary>
    public static IEnumerable<string> Assets => Assembly.GetExecutingAssembly().GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal));
}
