using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Native;

namespace Sandboxd.State;

/// <summary>
/// The only writer of the state directory: what must outlive the process (access token file, session-token hashes,
/// server specs, child sandbox records). One agent owns a state directory at a time (an exclusive lock on
/// <c>lock</c>, held for the life of the process). Every write is atomic and durable: temp file in the same directory,
/// fsync, rename, fsync of the directory. Temp files left by a killed agent are swept when the next one takes the lock.
/// </summary>
internal sealed class StateStore(string directory)
{
    public const string LockFile = "lock";
    private const string TempMarker = ".sandboxd-";

    /// <summary>The locked descriptor of <see cref="LockFile"/>; never closed (the kernel drops the lock when the process ends).</summary>
    private int _lockFd = -1;

    public string Directory { get; } = directory;

    /// <summary>True once <see cref="TryLock"/> has taken the directory for this process.</summary>
    public bool IsLocked => _lockFd >= 0;

    public string PathOf(string name) => Path.Combine(Directory, name);

    public void EnsureDirectory()
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>
    /// Takes the state directory for this process: an exclusive, non-blocking lock on its lock file (two agents on one
    /// state dir overwrite each other's servers.json and restore each other's servers). Then sweeps leftover temp files.
    /// </summary>
    /// <returns>Null when the directory is ours; otherwise a sentence saying who holds it and what to do.</returns>
    public string? TryLock()
    {
        try
        {
            EnsureDirectory();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot create the state directory {Directory}: {e.Message}";
        }

        var path = PathOf(LockFile);
        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0b110_000_000);
        if (fd < 0)
        {
            return $"cannot open {path}: {new System.ComponentModel.Win32Exception(LibC.LastErrno).Message}";
        }

        if (LibC.TryLockExclusive(fd) is var errno && errno != 0)
        {
            LibC.Close(fd);
            var holder = ReadHolder(path);
            return errno is LibC.EAGAIN or LibC.EACCES
                ? $"the state directory {Directory} is in use by another sandboxd agent{(holder is null ? "" : $" (pid {holder})")}; " +
                  "stop it, or give this agent its own --state-dir (or SANDBOXD_STATE_DIR)"
                : $"cannot lock {path}: {new System.ComponentModel.Win32Exception(errno).Message}";
        }

        _lockFd = fd;
        LibC.TryReplaceContent(fd, LibC.GetPid().ToString(CultureInfo.InvariantCulture) + "\n"); // for the error of the next one
        SweepTemporaryFiles();
        return null;
    }

    private static string? ReadHolder(string path) => LibC.TryReadSmallFile(path)?.Trim() is { Length: > 0 } pid ? pid : null;

    /// <summary>Temp files of writes a killed agent never finished (<c>.name.sandboxd-&lt;guid&gt;.tmp</c>, and the older <c>.name.&lt;guid&gt;.tmp</c>).</summary>
    private void SweepTemporaryFiles()
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, ".*.tmp"))
        {
            var name = Path.GetFileName(file);
            var legacy = name.Length > 37 && Guid.TryParseExact(name[^36..^4], "N", out _);
            if (name.Contains(TempMarker, StringComparison.Ordinal) || legacy)
            {
                File.Delete(file);
            }
        }
    }

    public void WriteText(string name, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite) =>
        WriteBytes(name, Encoding.UTF8.GetBytes(text), mode);

    public void Write<T>(string name, T value, JsonTypeInfo<T> type) =>
        WriteBytes(name, JsonSerializer.SerializeToUtf8Bytes(value, type), UnixFileMode.UserRead | UnixFileMode.UserWrite);

    public T? Read<T>(string name, JsonTypeInfo<T> type)
    {
        var path = PathOf(name);
        if (!File.Exists(path))
        {
            return default;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize(stream, type);
    }

    public string? ReadText(string name)
    {
        var path = PathOf(name);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    public void Delete(string name)
    {
        File.Delete(PathOf(name));
        SyncDirectory();
    }

    private void WriteBytes(string name, ReadOnlySpan<byte> bytes, UnixFileMode mode)
    {
        EnsureDirectory();
        var final = PathOf(name);
        var temp = PathOf($".{name}{TempMarker}{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        // The rename is durable only once the directory is: without this a crash can bring back the old file (or none).
        SyncDirectory();
    }

    private void SyncDirectory()
    {
        var fd = LibC.Open(Directory, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open {Directory} to sync it: {new System.ComponentModel.Win32Exception(LibC.LastErrno).Message}");
        }

        try
        {
            if (LibC.Fsync(fd) != 0)
            {
                throw new IOException($"fsync of {Directory} failed: {new System.ComponentModel.Win32Exception(LibC.LastErrno).Message}");
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
