using System.Collections.Concurrent;
using Sandboxd.Hosting;

namespace Sandboxd.Sandboxes;

/// <summary>The main sandbox and its children, by subdomain.</summary>
internal sealed class SandboxRegistry
{
    private readonly ConcurrentDictionary<string, SandboxContext> _children = new(StringComparer.Ordinal);

    public SandboxRegistry(AgentOptions options)
    {
        Main = new SandboxContext("main", Path.GetFullPath(options.Root), isMain: true, basePath: "");
    }

    public SandboxContext Main { get; }

    public int Count => 1 + _children.Count;

    public bool TryGetChild(string subdomain, out SandboxContext context) => _children.TryGetValue(subdomain, out context!);
}
