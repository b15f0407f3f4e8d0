using System.Runtime.InteropServices;

namespace Sandboxd.Native;

/// <summary>What identifies one version of a file: its inode, size and modification time (ns), read with stat(2).</summary>
internal readonly record struct FileIdentity(ulong Inode, long Size, long ModifiedNs, uint Mode)
{
    public bool IsRegular => (Mode & 0xF000) == 0x8000;

    public bool IsDirectory => (Mode & 0xF000) == 0x4000;

    public DateTimeOffset Modified => DateTimeOffset.FromUnixTimeMilliseconds(ModifiedNs / 1_000_000);
}

internal static unsafe partial class LibC
{
    // struct stat on x86_64: st_ino at 8, st_mode at 24, st_size at 48, st_mtim (sec, nsec) at 88.
    private const int IdentityStatSize = 144;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatForIdentity(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatVfs(string path, byte* buffer);

    /// <summary>The identity of <paramref name="path"/> (following symlinks); false if it cannot be read.</summary>
    internal static bool TryGetFileIdentity(string path, out FileIdentity identity)
    {
        var buffer = stackalloc byte[IdentityStatSize];
        if (StatForIdentity(path, buffer) != 0)
        {
            identity = default;
            return false;
        }

        var seconds = *(long*)(buffer + 88);
        var nanoseconds = *(long*)(buffer + 96);
        identity = new FileIdentity(*(ulong*)(buffer + 8), *(long*)(buffer + 48), (seconds * 1_000_000_000) + nanoseconds, *(uint*)(buffer + 24));
        return true;
    }

    /// <summary>Bytes an unprivileged writer may still use on the filesystem holding <paramref name="path"/>; -1 if unknown.</summary>
    internal static long AvailableBytes(string path)
    {
        // struct statvfs on x86_64: f_bsize (8), f_frsize (8), f_blocks (8), f_bfree (8), f_bavail (8) … 112 bytes.
        var buffer = stackalloc byte[112];
        if (StatVfs(path, buffer) != 0)
        {
            return -1;
        }

        var fragment = *(ulong*)(buffer + 8);
        var available = *(ulong*)(buffer + 32);
        return (long)Math.Min(fragment * available, long.MaxValue);
    }
}
