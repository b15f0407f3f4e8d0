using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    internal const int EACCES = 13;
    internal const int O_CREAT = 0x40;
    internal const int O_DIRECTORY = 0x10000;
    internal const int F_OFD_SETLK = 37;
    internal const short F_WRLCK = 1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStatCore(int fd, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlLock(int fd, int command, void* description);

    /// <summary>
    /// An exclusive open-file-description lock on the whole file (fcntl F_OFD_SETLK), without waiting: held as long as
    /// the descriptor is open, dropped by the kernel when the process ends. Not flock: .NET's FileStream takes flock locks
    /// of its own (its FileShare emulation), so any .NET program that merely reads the file would fail against one.
    /// </summary>
    /// <returns>0, or the errno (EAGAIN/EACCES when another process holds it).</returns>
    internal static int TryLockExclusive(int fd)
    {
        var description = stackalloc byte[32]; // struct flock on x86_64: l_type, l_whence, l_start, l_len, l_pid
        new Span<byte>(description, 32).Clear();
        *(short*)description = F_WRLCK;
        return FcntlLock(fd, F_OFD_SETLK, description) == 0 ? 0 : LastErrno;
    }

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int Fdatasync(int fd);

    /// <summary>fsync(2) of a directory, so that a rename or create in it survives a crash; false (errno kept) when it fails.</summary>
    internal static bool TrySyncDirectory(string directory)
    {
        var fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return false;
        }

        try
        {
            return Fsync(fd) == 0;
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Replaces the content of an open file with <paramref name="text"/>, through this descriptor.</summary>
    internal static bool TryReplaceContent(int fd, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        if (Ftruncate(fd, 0) != 0)
        {
            return false;
        }

        fixed (byte* p = bytes)
        {
            return PWrite(fd, p, bytes.Length, 0) == bytes.Length;
        }
    }

    /// <summary>The first <paramref name="max"/> bytes of a file as UTF-8 (no .NET FileStream and its locking); null if unreadable.</summary>
    internal static string? TryReadSmallFile(string path, int max = 256)
    {
        var fd = Open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            var buffer = stackalloc byte[max];
            var n = Read(fd, buffer, max);
            return n < 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, (int)n);
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PWrite(int fd, byte* buffer, nint count, long offset);

    /// <summary>The file type bits (<c>st_mode &amp; S_IFMT</c>) of an open descriptor, or -1 when fstat fails.</summary>
    internal static int FileType(int fd)
    {
        var buffer = stackalloc byte[StatSize];
        return FStatCore(fd, buffer) == 0 ? (int)(*(uint*)(buffer + StatModeOffset) & 0xF000) : -1;
    }

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial byte* RealPathCore(string path, byte* resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(void* pointer);

    /// <summary>The canonical absolute path (every symlink resolved), or null when it cannot be resolved.</summary>
    internal static string? RealPath(string path)
    {
        var resolved = RealPathCore(path, null);
        if (resolved is null)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8((nint)resolved);
        }
        finally
        {
            Free(resolved);
        }
    }
}
