using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Auth;
using Sandboxd.Core;
using Sandboxd.Protocol;

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
            routes.MapGet(root, (HttpContext http) => ServeRoot(root, http)).AllowAnonymousAgent();
            routes.MapGet(root + "/{**asset}", Serve).AllowAnonymousAgent();
        }

        return routes;
    }

    /// <summary>Routing ignores a trailing slash, so "/play" also matches "/play/": the page there, a redirect only for "/play".</summary>
    private static Results<FileStreamHttpResult, JsonHttpResult<ErrorResponse>, RedirectHttpResult> ServeRoot(string root, HttpContext http)
    {
        if (!http.Request.Path.Value!.EndsWith('/'))
        {
            return TypedResults.Redirect(root + "/" + http.Request.QueryString);
        }

        return Find(null, out var missing) is { } page ? page : Api.NotFound(missing!);
    }

    private static Results<FileStreamHttpResult, JsonHttpResult<ErrorResponse>> Serve(string? asset) =>
        Find(asset, out var missing) is { } file ? file : Api.NotFound(missing!);

    /// <summary>The embedded asset as a stream result, or null and why not.</summary>
    private static FileStreamHttpResult? Find(string? asset, out string? missing)
    {
        var name = string.IsNullOrEmpty(asset) ? "index.html" : asset;
        if (name.Contains("..", StringComparison.Ordinal))
        {
            missing = "No such asset.";
            return null;
        }

        var stream = typeof(WorkspaceFeature).Assembly.GetManifestResourceStream(Prefix + name.Replace('/', '.'));
        if (stream is null)
        {
            missing = $"No such asset: {name}";
            return null;
        }

        missing = null;

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
