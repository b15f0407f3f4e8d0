namespace Sandboxd.FileSystem;

/// <summary>What to copy from a template, decided by one walk before anything is written.</summary>
internal sealed class CopyPlan
{
    public List<string> Directories { get; } = [];
    public List<string> FilesNow { get; } = [];
    public List<string> FilesLater { get; } = [];
    public List<(string Relative, string Target)> Symlinks { get; } = [];
    /// <summary>Package directories: linked (smart) or copied in the background (copy).</summary>
    public List<string> PackageDirs { get; } = [];
    public List<string> Skipped { get; } = [];
}

/// <summary>
/// Copies template trees for overlays. Every file is written under a temporary name in its final directory and renamed
/// into place, so no reader ever sees half a file under its final name; modes, timestamps, hidden files and symlinks
/// inside the template are kept. Files are copied by <see cref="Native.FileCopy"/> on a few threads at a time.
/// </summary>
internal static class TreeCopier
{
    /// <summary>Copy threads (SANDBOXD_OVERLAY_WORKERS, 1–16, for measuring; see docs/adr/0015-overlay-copy.md).</summary>
    public static readonly int Workers =
        int.TryParse(Environment.GetEnvironmentVariable("SANDBOXD_OVERLAY_WORKERS"), out var n) && n is >= 1 and <= 16 ? n : 2;

    public static CopyPlan Plan(string source, Glob ignore, ISet<string> packageNames, long smallFileLimit)
    {
        var plan = new CopyPlan();
        var stack = new Stack<string>();
        var entries = new List<(string Name, byte Type)>();
        stack.Push("");
        while (stack.Count > 0)
        {
            var relativeDir = stack.Pop();
            var dir = relativeDir.Length == 0 ? source : source + "/" + relativeDir;
            entries.Clear();
            Native.DirectoryReader.Read(dir, entries); // names and d_type: no stat per entry
            foreach (var (name, entryType) in entries)
            {
                var relative = relativeDir.Length == 0 ? name : relativeDir + "/" + name;
                if (name == ".git" || ignore.IsMatch(relative))
                {
                    plan.Skipped.Add(relative);
                    continue;
                }

                var full = dir + "/" + name;
                var type = entryType;
                var size = 0L;
                if (type == Native.DirectoryReader.DT_UNKNOWN || (type == Native.DirectoryReader.DT_REG && smallFileLimit != long.MaxValue))
                {
                    type = Native.DirectoryReader.TypeOf(full, out size);
                }

                switch (type)
                {
                    case Native.DirectoryReader.DT_LNK:
                        plan.Symlinks.Add((relative, Native.DirectoryReader.ReadLink(full)));
                        break;
                    case Native.DirectoryReader.DT_DIR when packageNames.Contains(name):
                        plan.PackageDirs.Add(relative);
                        break;
                    case Native.DirectoryReader.DT_DIR:
                        plan.Directories.Add(relative);
                        stack.Push(relative);
                        break;
                    case Native.DirectoryReader.DT_REG:
                        (size <= smallFileLimit ? plan.FilesNow : plan.FilesLater).Add(relative);
                        break;
                    default:
                        plan.Skipped.Add(relative); // fifos, sockets, devices: opening one would block or make no sense
                        break;
                }
            }
        }

        plan.Skipped.Sort(StringComparer.Ordinal);
        return plan;
    }

    public static void CreateDirectories(string source, string target, IEnumerable<string> relativeDirs)
    {
        Native.WorkloadUser.Current.CreateDirectory(target);
        foreach (var relative in relativeDirs)
        {
            var dst = Path.Combine(target, relative);
            Native.WorkloadUser.Current.CreateDirectory(dst);
            File.SetUnixFileMode(dst, File.GetUnixFileMode(Path.Combine(source, relative)));
        }
    }

    /// <summary>Sets directory timestamps after their contents are written (writing into a directory changes its mtime).</summary>
    public static void CopyDirectoryTimes(string source, string target, IEnumerable<string> relativeDirs)
    {
        foreach (var relative in relativeDirs.OrderByDescending(d => d.Length))
        {
            Directory.SetLastWriteTimeUtc(Path.Combine(target, relative), Directory.GetLastWriteTimeUtc(Path.Combine(source, relative)));
        }
    }

    public static void CreateSymlinks(string target, IEnumerable<(string Relative, string Target)> links)
    {
        foreach (var (relative, linkTarget) in links)
        {
            var dst = Path.Combine(target, relative);
            if (Path.Exists(dst) || new FileInfo(dst).LinkTarget is not null)
            {
                DeleteEntry(dst);
            }

            File.CreateSymbolicLink(dst, linkTarget);
            Native.WorkloadUser.Current.Claim(dst);
        }
    }

    /// <summary>Links each package directory in the target to its absolute path in the source.</summary>
    public static void LinkDirectories(string source, string target, IEnumerable<string> relativeDirs)
    {
        foreach (var relative in relativeDirs)
        {
            var dst = Path.Combine(target, relative);
            if (Path.Exists(dst) || new FileInfo(dst).LinkTarget is not null)
            {
                DeleteEntry(dst);
            }

            Directory.CreateSymbolicLink(dst, Path.Combine(source, relative));
            Native.WorkloadUser.Current.Claim(dst);
        }
    }

    /// <summary>Copies files (relative paths) with a few in flight; <paramref name="copied"/> is called per file.</summary>
    public static Task CopyFilesAsync(string source, string target, IReadOnlyList<string> files, Action<long> copied, CancellationToken cancellationToken)
    {
        var copier = new Native.FileCopy(Native.WorkloadUser.Current);
        return RunAsync(files.Count, i => copied(copier.Copy(source + "/" + files[i], target + "/" + files[i])), cancellationToken);
    }

    /// <summary>
    /// Copies whole directories (package directories in copy mode), same rules as the overlay itself: one walk per
    /// directory, then one pool of workers over all their files. <paramref name="directoryCopied"/> is called once per
    /// directory when its last file is in place.
    /// </summary>
    public static async Task CopyTreesAsync(string source, string target, IReadOnlyList<string> relativeDirs, Action<long> copied, Action directoryCopied, CancellationToken cancellationToken)
    {
        var plans = new CopyPlan[relativeDirs.Count];
        var remaining = new int[relativeDirs.Count];
        var total = 0;
        for (var d = 0; d < plans.Length; d++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (src, dst) = (source + "/" + relativeDirs[d], target + "/" + relativeDirs[d]);
            plans[d] = Plan(src, new Glob(null), new HashSet<string>(), long.MaxValue);
            CreateDirectories(src, dst, plans[d].Directories);
            CreateSymlinks(dst, plans[d].Symlinks);
            remaining[d] = plans[d].FilesNow.Count;
            total += remaining[d];
        }

        var owners = new int[total];
        var indexes = new int[total];
        for (int d = 0, n = 0; d < plans.Length; d++)
        {
            for (var i = 0; i < plans[d].FilesNow.Count; i++, n++)
            {
                (owners[n], indexes[n]) = (d, i);
            }

            if (remaining[d] == 0)
            {
                directoryCopied();
            }
        }

        var copier = new Native.FileCopy(Native.WorkloadUser.Current);
        await RunAsync(total, n =>
        {
            var d = owners[n];
            var relative = relativeDirs[d] + "/" + plans[d].FilesNow[indexes[n]];
            copied(copier.Copy(source + "/" + relative, target + "/" + relative));
            if (Interlocked.Decrement(ref remaining[d]) == 0)
            {
                directoryCopied();
            }
        }, cancellationToken).ConfigureAwait(false);

        for (var d = 0; d < plans.Length; d++)
        {
            var (src, dst) = (source + "/" + relativeDirs[d], target + "/" + relativeDirs[d]);
            CopyDirectoryTimes(src, dst, plans[d].Directories);
            Directory.SetLastWriteTimeUtc(dst, Directory.GetLastWriteTimeUtc(src));
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> for 0 … count−1 on <see cref="Workers"/> dedicated threads (inline when there are few
    /// items). The first failure stops the others after their current item and is what the task ends with.
    /// </summary>
    private static async Task RunAsync(int count, Action<int> work, CancellationToken cancellationToken)
    {
        if (count < 64 || Workers == 1)
        {
            for (var i = 0; i < count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                work(i);
            }

            return;
        }

        var next = -1;
        var stop = 0;
        void Worker()
        {
            int i;
            while (Volatile.Read(ref stop) == 0 && (i = Interlocked.Increment(ref next)) < count)
            {
                try
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    work(i);
                }
                catch
                {
                    Volatile.Write(ref stop, 1);
                    throw;
                }
            }
        }

        var workers = new Task[Math.Min(Workers, (count + 31) / 32)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Factory.StartNew(Worker, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    /// <summary>Removes a file, a symlink (never its target) or a directory tree (symlinks inside are unlinked, not followed).</summary>
    public static void DeleteEntry(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null || info.Exists)
        {
            info.Delete();
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
