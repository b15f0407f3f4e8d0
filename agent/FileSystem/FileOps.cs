using System.Text;
using Sandboxd.Errors;
using Sandboxd.Protocol;

namespace Sandboxd.FileSystem;

/// <summary>
/// The one helper every file write and read goes through (Files endpoints, env files, overlays): parents created,
/// writes atomic (temp file in the same directory + rename, mode of the replaced file kept) so no reader ever sees
/// half a file — except files with several hard links, rewritten in place so every name sees the new content —
/// writes go through symlinks, and OS errors are turned into clear 4xx/5xx.
/// </summary>
internal static class FileOps
{
    public const long MaxReadBytes = 256L * 1024 * 1024;
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    public static FileEntry Describe(string path)
    {
        var info = new FileInfo(path);
        var isDir = Directory.Exists(path); // follows symlinks: a link to a directory lists as a directory
        long size = 0;
        DateTime modified;
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            size = !isDir && target is FileInfo { Exists: true } f ? f.Length : 0;
            modified = target?.Exists == true ? target.LastWriteTimeUtc : info.LastWriteTimeUtc;
        }
        else
        {
            size = isDir ? 0 : info.Exists ? info.Length : 0;
            modified = isDir ? Directory.GetLastWriteTimeUtc(path) : info.LastWriteTimeUtc;
        }

        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        return new FileEntry(name.Length == 0 ? "/" : name, path, size, isDir, modified);
    }

    /// <summary>True if the path exists, following symlinks (a dangling link does not exist).</summary>
    public static bool Exists(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null)
        {
            return info.Exists || Directory.Exists(path);
        }

        try
        {
            return info.ResolveLinkTarget(returnFinalTarget: true)?.Exists == true;
        }
        catch (IOException)
        {
            return false; // a link loop
        }
    }

    /// <summary>The final target of a symlink (writes go through links, as with open(2)); the path itself otherwise.</summary>
    private static string ThroughLinks(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
    }

    /// <summary>Lists direct children (dot-files included), sorted by name (ordinal).</summary>
    public static IReadOnlyList<FileEntry> List(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw File.Exists(directory)
                ? new SandboxdException(ErrorKind.Invalid, $"{directory} is not a directory.")
                : new SandboxdException(ErrorKind.NotFound, $"{directory} does not exist.");
        }

        return Guard(directory, () => new DirectoryInfo(directory)
            .EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false })
            .Select(e => Describe(e.FullName))
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .ToList());
    }

    /// <summary>Reads a file as UTF-8 text (invalid sequences become U+FFFD).</summary>
    public static string ReadText(string path) =>
        new UTF8Encoding(false, false).GetString(ReadRegular(path, MaxReadBytes));

    /// <summary>
    /// Reads a regular file whole, never more than <paramref name="maxBytes"/> plus one byte (a file that grows while it is
    /// read, or a size that lies, cannot make the agent buffer more). Devices, FIFOs and sockets are refused: /dev/zero
    /// never ends and a FIFO blocks until a writer comes.
    /// </summary>
    /// <exception cref="SandboxdException">Invalid (not a regular file), NotFound, Forbidden, TooLarge (larger than <paramref name="maxBytes"/>).</exception>
    public static byte[] ReadRegular(string path, long maxBytes)
    {
        if (Directory.Exists(path))
        {
            throw new SandboxdException(ErrorKind.Invalid, $"{path} is a directory; list it with GET /files?path= instead.");
        }

        using var handle = Native.RegularFile.OpenForRead(path, out var notRegular, out var errno);
        if (handle is null)
        {
            throw notRegular is not null
                ? new SandboxdException(ErrorKind.Invalid, $"{path} is not a regular file ({notRegular}); only regular files are read.")
                : errno switch
                {
                    Native.LibC.ENOENT => new SandboxdException(ErrorKind.NotFound, $"{path} does not exist."),
                    Native.LibC.EACCES or Native.LibC.EPERM => new SandboxdException(ErrorKind.Forbidden, $"Permission denied: {path}."),
                    _ => new SandboxdException(ErrorKind.Internal, $"Cannot open {path}: {new System.ComponentModel.Win32Exception(errno).Message}."),
                };
        }

        Microsoft.Win32.SafeHandles.SafeFileHandle file = handle;
        return Guard(path, () =>
        {
            using var stream = new FileStream(file, FileAccess.Read, bufferSize: 0);
            var tooBig = new SandboxdException(ErrorKind.TooLarge, $"{path} is larger than {maxBytes} bytes; files over {maxBytes} bytes are not returned inline.");
            if (stream.Length > maxBytes)
            {
                throw tooBig;
            }

            // One byte more than the size (or the cap): reaching it means the file grew past what fstat said.
            var buffer = new byte[Math.Min(stream.Length, maxBytes) + 1];
            var total = 0;
            while (true)
            {
                if (total == buffer.Length)
                {
                    if (total > maxBytes)
                    {
                        throw tooBig;
                    }

                    Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, maxBytes + 1));
                }

                var read = stream.Read(buffer, total, buffer.Length - total);
                if (read == 0)
                {
                    Array.Resize(ref buffer, total);
                    return buffer;
                }

                total += read;
            }
        });
    }

    /// <summary>Writes <paramref name="content"/> atomically; null content = touch (create empty if missing, keep if present).</summary>
    public static FileEntry Write(string path, string? content) => WriteBytes(path, content is null ? null : Encoding.UTF8.GetBytes(content));

    public static FileEntry WriteBytes(string path, byte[]? bytes)
    {
        if (Directory.Exists(path))
        {
            throw new SandboxdException(ErrorKind.Invalid, $"{path} is a directory.");
        }

        var requested = path;
        path = ThroughLinks(path);
        return Guard(path, () =>
        {
            var directory = Path.GetDirectoryName(path) ?? "/";
            CreateParents(directory);
            if (bytes is null)
            {
                if (!File.Exists(path))
                {
                    using (File.Open(path, FileMode.OpenOrCreate, FileAccess.Write))
                    {
                    }

                    Native.WorkloadUser.Current.Claim(path);
                }

                return Describe(requested);
            }

            if (File.Exists(path) && Native.LibC.HardLinkCount(path) > 1)
            {
                // A file with other hard links is rewritten in place (what editors do): a rename would leave the other
                // names on the old content. Everything else is replaced atomically.
                using var inPlace = new FileStream(path, FileMode.Truncate, FileAccess.Write);
                inPlace.Write(bytes);
                return Describe(requested);
            }

            var existing = File.Exists(path) ? File.GetUnixFileMode(path) : (UnixFileMode?)null;
            var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.sandboxd-{Guid.NewGuid():N}.tmp");
            try
            {
                using (var stream = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = existing ?? (UnixFileMode)0b110_100_100, // 0644 before umask
                }))
                {
                    stream.Write(bytes);
                }

                if (existing is { } mode)
                {
                    File.SetUnixFileMode(temp, mode);
                }

                Native.WorkloadUser.Current.Claim(temp);
                File.Move(temp, path, overwrite: true);
            }
            catch
            {
                File.Delete(temp);
                throw;
            }

            return Describe(requested);
        });
    }

    private static void CreateParents(string directory)
    {
        if (File.Exists(directory))
        {
            throw new SandboxdException(ErrorKind.Invalid, $"Cannot create parent directory {directory}: a file with that name exists.");
        }

        Native.WorkloadUser.Current.CreateDirectory(directory);
    }

    /// <summary>Deletes a file, a symlink (not its target) or a directory recursively.</summary>
    public static void Delete(string path)
    {
        Guard(path, () =>
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null || File.Exists(path))
            {
                info.Delete();
            }
            else if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                throw new SandboxdException(ErrorKind.NotFound, $"{path} does not exist.");
            }

            return 0;
        });
    }

    private static T Guard<T>(string path, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SandboxdException)
        {
            throw;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SandboxdException(ErrorKind.NotFound, $"{path} does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SandboxdException(ErrorKind.Forbidden, $"Permission denied: {path}.", e);
        }
        catch (PathTooLongException e)
        {
            throw new SandboxdException(ErrorKind.Invalid, $"Path too long: {path}.", e);
        }
        catch (IOException e) when ((e.HResult & 0xFFFF) is ENOSPC or EDQUOT)
        {
            throw new SandboxdException(ErrorKind.InsufficientStorage, $"No space left on the device writing {path}; nothing was changed.", e);
        }
        catch (IOException e)
        {
            throw new SandboxdException(ErrorKind.Invalid, $"{path}: {e.Message}", e);
        }
    }
}
