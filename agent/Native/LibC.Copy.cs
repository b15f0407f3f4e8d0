using System.Runtime.InteropServices;

namespace Sandboxd.Native;

/// <summary>Bindings for copying trees without managed streams (see <see cref="FileCopy"/>, <see cref="DirectoryReader"/>).</summary>
internal static unsafe partial class LibC
{
    internal const int ENXIO = 6;
    internal const int EXDEV = 18;
    internal const int EINVAL = 22;
    internal const int ENOTTY = 25;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;
    internal const int EISDIR = 21;
    internal const int O_EXCL = 0x80;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int SEEK_DATA = 3;
    internal const int SEEK_HOLE = 4;
    internal const nuint FICLONE = 0x40049409;

    // struct stat on x86_64 (see LibC.Stat.cs): st_uid 28, st_gid 32, st_size 48, st_blocks 64, st_atim 72, st_mtim 88.
    private const int StatSizeOffset = 48;
    private const int StatBlocksOffset = 64;
    private const int StatATimeOffset = 72;
    private const int StatMTimeOffset = 88;

    /// <summary>What a copy needs from struct stat.</summary>
    internal readonly record struct FileStatus(uint Mode, long Size, long Blocks, long ATimeSec, long ATimeNsec, long MTimeSec, long MTimeNsec)
    {
        public int Type => (int)(Mode & 0xF000);
    }

    private static FileStatus ReadStatus(byte* buffer) => new(
        *(uint*)(buffer + StatModeOffset), *(long*)(buffer + StatSizeOffset), *(long*)(buffer + StatBlocksOffset),
        *(long*)(buffer + StatATimeOffset), *(long*)(buffer + StatATimeOffset + 8),
        *(long*)(buffer + StatMTimeOffset), *(long*)(buffer + StatMTimeOffset + 8));

    /// <summary>fstat(2); false (errno kept) when it fails.</summary>
    internal static bool TryFStat(int fd, out FileStatus status)
    {
        var buffer = stackalloc byte[StatSize];
        if (FStatCore(fd, buffer) != 0)
        {
            status = default;
            return false;
        }

        status = ReadStatus(buffer);
        return true;
    }

    /// <summary>lstat(2) (a symlink itself, never its target); false (errno kept) when it fails.</summary>
    internal static bool TryLStat(string path, out FileStatus status)
    {
        var buffer = stackalloc byte[StatSize];
        if (LStatCore(path, buffer) != 0)
        {
            status = default;
            return false;
        }

        status = ReadStatus(buffer);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int IoctlClone(int fd, nuint request, int sourceFd);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    internal static partial nint CopyFileRange(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    internal static partial nint PRead(int fd, byte* buffer, nint count, long offset);

    internal static nint PWriteAt(int fd, byte* buffer, nint count, long offset) => PWrite(fd, buffer, count, offset);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int FChmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    internal static partial int FChown(int fd, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    internal static partial int FUtimens(int fd, long* times);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ReadLink(string path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint OpenDir(string path);

    /// <summary>readdir(3): struct dirent64 on x86_64 is d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.</summary>
    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    internal static partial byte* ReadDir(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(nint dir);

    /// <summary>An <see cref="IOException"/> for the last errno whose HResult is the errno (as .NET's own are).</summary>
    internal static IOException IoError(string operation, string path) => IoError(LastErrno, operation, path);

    internal static IOException IoError(int errno, string operation, string path) =>
        new($"{operation} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}
