using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    // struct stat on x86_64: st_dev (8), st_ino (8), st_nlink (8) … 144 bytes in all.
    private const int StatSize = 144;
    private const int StatNlinkOffset = 16;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatCore(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStatCore(string path, byte* buffer);

    private const int StatModeOffset = 24;

    /// <summary>True if <paramref name="path"/> itself (not following a symlink) is a regular file — not a fifo, socket or device.</summary>
    internal static bool IsRegularFile(string path)
    {
        var buffer = stackalloc byte[StatSize];
        return LStatCore(path, buffer) == 0 && (*(uint*)(buffer + StatModeOffset) & 0xF000) == 0x8000;
    }

    /// <summary>The owner's uid of <paramref name="path"/> itself (not following a symlink), or null if it cannot be read.</summary>
    internal static uint? OwnerOf(string path)
    {
        var buffer = stackalloc byte[StatSize];
        return LStatCore(path, buffer) == 0 ? *(uint*)(buffer + 28) : null; // st_uid at 28 on x86_64
    }

    /// <summary>The number of hard links of <paramref name="path"/> (following symlinks), or 0 if it cannot be read.</summary>
    internal static ulong HardLinkCount(string path)
    {
        var buffer = stackalloc byte[StatSize];
        return StatCore(path, buffer) == 0 ? *(ulong*)(buffer + StatNlinkOffset) : 0;
    }
}
