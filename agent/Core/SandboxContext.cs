using System.Collections.Concurrent;

namespace Sandboxd.Core;

/// <summary>
/// The sandbox a request addresses: the main one or a child. Holds the root that relative paths and the default cwd
/// resolve against, the sandbox's env layer, and a bag of per-sandbox feature state (terminals, watchers, servers…),
/// so features keep their registries per sandbox without this type knowing them.
/// </summary>
internal sealed class SandboxContext(string subdomain, string root, bool isMain, string basePath)
{
    private readonly ConcurrentDictionary<Type, object> _features = new();

    public string Subdomain { get; } = subdomain;
    public string Root { get; } = root;
    public bool IsMain { get; } = isMain;

    /// <summary>"" for the main sandbox, "/s/&lt;subdomain&gt;" for a child.</summary>
    public string BasePath { get; } = basePath;

    public DateTime CreatedAt { get; } = DateTime.UtcNow;

    /// <summary>Variables every child process of this sandbox gets (below the call's own).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public T Feature<T>(Func<T> create) where T : class => (T)_features.GetOrAdd(typeof(T), static (_, c) => c(), create);

    public IEnumerable<object> Features => _features.Values;

    /// <summary>Resolves a path from a request: absolute as-is, relative against <see cref="Root"/>; normalised.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Root, path));

    /// <summary>Minimal-API binding: the routing middleware has already put the context on the request.</summary>
    public static ValueTask<SandboxContext?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Features.Get<SandboxContext>());
}
