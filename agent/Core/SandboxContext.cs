using System.Collections.Concurrent;

namespace Sandboxd.Core;

/// <summary>
/// The sandbox a request addresses: the main one or a child. Holds the root that relative paths and the default cwd
/// resolve against, the sandbox's env layer, and a bag of per-sandbox feature state (terminals, watchers, servers…),
/// so features keep their registries per sandbox without this type knowing them.
/// </summary>
/// <param name="time">The clock of <see cref="CreatedAt"/> (<see cref="TimeProvider.System"/> unless given).</param>
internal sealed class SandboxContext(string subdomain, string root, bool isMain, string basePath, TimeProvider? time = null)
{
    private readonly ConcurrentDictionary<Type, object> _features = new();

    public string Subdomain { get; } = subdomain;
    public string Root { get; } = root;
    public bool IsMain { get; } = isMain;

    /// <summary>"" for the main sandbox, "/s/&lt;subdomain&gt;" for a child.</summary>
    public string BasePath { get; } = basePath;

    public DateTime CreatedAt { get; } = (time ?? TimeProvider.System).GetUtcNow().UtcDateTime;

    /// <summary>Variables every child process of this sandbox gets (below the call's own).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The agent's state directory (token hashes, server specs): no file route of any sandbox reads or writes in it, through
    /// a relative path, an absolute one or a symlink.
    /// </summary>
    public string? ProtectedDirectory { get; init; }

    /// <summary>True when <paramref name="path"/> (absolute, normalised) is or would be inside <see cref="ProtectedDirectory"/>.</summary>
    public bool IsProtected(string path)
    {
        if (ProtectedDirectory is not { } protectedDirectory)
        {
            return false;
        }

        if (IsUnder(path, protectedDirectory))
        {
            return true;
        }

        // Follow symlinks in the part of the path that exists (a link to the state dir, or to a parent of it).
        var existing = path;
        while (!System.IO.Path.Exists(existing) && System.IO.Path.GetDirectoryName(existing) is { } parent)
        {
            existing = parent;
        }

        if (Native.LibC.RealPath(existing) is not { } real)
        {
            return false;
        }

        var rest = path[existing.Length..].TrimStart('/');
        return IsUnder(rest.Length == 0 ? real : System.IO.Path.Combine(real, rest), Native.LibC.RealPath(protectedDirectory) ?? protectedDirectory);
    }

    private static bool IsUnder(string path, string directory)
    {
        directory = System.IO.Path.TrimEndingDirectorySeparator(directory);
        return path == directory || path.StartsWith(directory + "/", StringComparison.Ordinal);
    }

    public T Feature<T>(Func<T> create) where T : class => (T)_features.GetOrAdd(typeof(T), static (_, c) => c(), create);

    public IEnumerable<object> Features => _features.Values;

    /// <summary>Resolves a path from a request: absolute as-is, relative against <see cref="Root"/>; normalised.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Root, path));

    /// <summary>Minimal-API binding: the routing middleware has already put the context on the request.</summary>
    public static ValueTask<SandboxContext?> BindAsync(HttpContext context) =>
        ValueTask.FromResult(context.Features.Get<SandboxContext>());
}
