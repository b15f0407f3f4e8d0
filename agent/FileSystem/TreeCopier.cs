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
/// inside the template are kept. Copies run a few files at a time (the work is I/O-bound).
/// </summary>
internal static class TreeCopier
{
    public const int Parallelism = 4;

    public static CopyPlan Plan(string source, Glob ignore, ISet<string> packageNames, long smallFileLimit)
    {
        var plan = new CopyPlan();
        var stack = new Stack<string>();
        stack.Push("");
        while (stack.Count > 0)
        {
            var relativeDir = stack.Pop();
            var dir = relativeDir.Length == 0 ? source : Path.Combine(source, relativeDir);
            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false }))
            {
                var relative = relativeDir.Length == 0 ? entry.Name : relativeDir + "/" + entry.Name;
                if (entry.Name == ".git" || ignore.IsMatch(relative))
                {
                    plan.Skipped.Add(relative);
                    continue;
                }

                if (entry.LinkTarget is { } target)
                {
                    plan.Symlinks.Add((relative, target));
                }
                else if (entry is DirectoryInfo)
                {
                    if (packageNames.Contains(entry.Name))
                    {
                        plan.PackageDirs.Add(relative);
                    }
                    else
                    {
                        plan.Directories.Add(relative);
                        stack.Push(relative);
                    }
                }
                else if (entry is FileInfo file)
                {
                    if (!Native.LibC.IsRegularFile(file.FullName))
                    {
                        plan.Skipped.Add(relative); // fifos, sockets, devices: opening one would block or make no sense
                        continue;
                    }

                    (file.Length <= smallFileLimit ? plan.FilesNow : plan.FilesLater).Add(relative);
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
    public static async Task CopyFilesAsync(string source, string target, IReadOnlyList<string> files, Action<long> copied, CancellationToken cancellationToken)
    {
        if (files.Count < 64)
        {
            foreach (var relative in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                copied(CopyFile(Path.Combine(source, relative), Path.Combine(target, relative)));
            }

            return;
        }

        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, (relative, _) =>
        {
            copied(CopyFile(Path.Combine(source, relative), Path.Combine(target, relative)));
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
    }

    /// <summary>Copies a whole directory (a package directory in copy mode), same rules as the overlay itself.</summary>
    public static async Task CopyTreeAsync(string source, string target, Action<long> copied, CancellationToken cancellationToken)
    {
        var plan = Plan(source, new Glob(null), new HashSet<string>(), long.MaxValue);
        CreateDirectories(source, target, plan.Directories);
        CreateSymlinks(target, plan.Symlinks);
        await CopyFilesAsync(source, target, plan.FilesNow, copied, cancellationToken).ConfigureAwait(false);
        CopyDirectoryTimes(source, target, plan.Directories);
        Directory.SetLastWriteTimeUtc(target, Directory.GetLastWriteTimeUtc(source));
    }

    /// <summary>One file: temp name next to the destination, data, mode, mtime, then rename. Returns the bytes copied.</summary>
    public static long CopyFile(string source, string destination)
    {
        var temp = Path.Combine(Path.GetDirectoryName(destination)!, $".{Path.GetFileName(destination)}.sandboxd-{Guid.NewGuid():N}.tmp");
        try
        {
            File.Copy(source, temp, overwrite: false); // copy_file_range/sendfile under the hood; keeps the mode
            File.SetLastWriteTimeUtc(temp, File.GetLastWriteTimeUtc(source));
            Native.WorkloadUser.Current.Claim(temp);
            if (Directory.Exists(destination) && new FileInfo(destination).LinkTarget is null)
            {
                Directory.Delete(destination, recursive: true);
            }

            File.Move(temp, destination, overwrite: true);
            return new FileInfo(destination).Length;
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
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
