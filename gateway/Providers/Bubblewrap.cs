namespace Sandboxd.Gateway.Providers;

/// <summary>
/// The bubblewrap command line that runs one agent in its own mount, PID and IPC namespaces: the host read-only, its
/// own <c>/tmp</c>, <c>/dev</c> and <c>/proc</c>, the gateway's state dir hidden except this sandbox's own files, and
/// the sandbox root writable at the path the agent serves. The network namespace is shared, so the agent's port is
/// reachable. No <c>--die-with-parent</c>: sandboxes outlive a gateway restart.
/// </summary>
internal static class Bubblewrap
{
    private static readonly string[] Special = ["/proc", "/dev", "/tmp", "/sys"];

    /// <summary>The <c>bwrap</c> on PATH, or null.</summary>
    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "bwrap"))
            .FirstOrDefault(File.Exists);

    /// <param name="gatewayState">The gateway's state dir (database, every sandbox): hidden inside.</param>
    /// <param name="hostRoot">The sandbox root on the host.</param>
    /// <param name="agentRoot">Where the agent sees its root (the create option <c>directory</c>, or <paramref name="hostRoot"/>).</param>
    /// <param name="visible">Host files this agent needs inside at the same path (its state dir is bound writable).</param>
    public static List<string> Arguments(string gatewayState, string hostRoot, string agentRoot, string agentStateDir, IEnumerable<string> visible)
    {
        var args = new List<string> { "--unshare-pid", "--unshare-ipc", "--as-pid-1", "--cap-drop", "ALL" };
        BindChildren(args, "/");
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp", "--ro-bind-try", "/sys", "/sys"]);
        MakeMountPointPossible(args, agentRoot, gatewayState);
        if (!IsUnder(gatewayState, "/tmp"))
        {
            args.AddRange(["--tmpfs", gatewayState]);
        }

        args.AddRange(["--bind", hostRoot, agentRoot, "--bind", agentStateDir, agentStateDir]);
        foreach (var path in visible)
        {
            args.AddRange(["--ro-bind", path, path]);
        }

        args.AddRange(["--chdir", agentRoot, "--"]);
        return args;
    }

    /// <summary>
    /// bwrap cannot create a mount point inside a read-only bind. When the root's path does not exist on the host, its
    /// deepest existing ancestor becomes a tmpfs holding read-only binds of that ancestor's host entries.
    /// </summary>
    private static void MakeMountPointPossible(List<string> args, string agentRoot, string gatewayState)
    {
        if (Directory.Exists(agentRoot))
        {
            return;
        }

        var ancestor = Path.GetDirectoryName(agentRoot);
        while (ancestor is not null && !Directory.Exists(ancestor))
        {
            ancestor = Path.GetDirectoryName(ancestor);
        }

        if (ancestor is null or "/" || IsUnder(ancestor, "/tmp") || IsUnder(ancestor, gatewayState) || Special.Any(s => IsUnder(ancestor, s)))
        {
            return; // a tmpfs already
        }

        args.AddRange(["--tmpfs", ancestor]);
        BindChildren(args, ancestor);
    }

    private static void BindChildren(List<string> args, string dir)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
        {
            if (Special.Contains(entry, StringComparer.Ordinal))
            {
                continue;
            }

            var info = new FileInfo(entry);
            if (info.LinkTarget is { } target)
            {
                args.AddRange(["--symlink", target, entry]);
            }
            else
            {
                args.AddRange(["--ro-bind-try", entry, entry]);
            }
        }
    }

    private static bool IsUnder(string path, string dir) =>
        path == dir || path.StartsWith(dir.TrimEnd('/') + "/", StringComparison.Ordinal);
}
