using Microsoft.Win32.SafeHandles;

namespace Sandboxd.Native;

/// <summary>
/// Opens a path for reading only if it is a regular file. The open is non-blocking (a FIFO with no writer would
/// otherwise block the open until one comes) and the type is checked on the opened descriptor (fstat), so a path
/// swapped between a check and the open cannot slip a device or a FIFO through.
/// </summary>
internal static class RegularFile
{
    private const int S_IFREG = 0x8000;

    /// <summary>The opened file, or null with <paramref name="notRegular"/> (what it is instead) or <paramref name="errno"/> set.</summary>
    public static SafeFileHandle? OpenForRead(string path, out string? notRegular, out int errno)
    {
        notRegular = null;
        errno = 0;
        var fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC | LibC.O_NOCTTY, 0);
        if (fd < 0)
        {
            errno = LibC.LastErrno;
            return null;
        }

        var type = LibC.FileType(fd);
        if (type != S_IFREG)
        {
            LibC.Close(fd);
            notRegular = Describe(type);
            return null;
        }

        // O_NONBLOCK means nothing for a regular file's reads; the handle is an ordinary one from here on.
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static string Describe(int type) => type switch
    {
        0x4000 => "a directory",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0x1000 => "a FIFO",
        0xC000 => "a socket",
        _ => "not a regular file",
    };
}
