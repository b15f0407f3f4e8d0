using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    internal const uint IN_MODIFY = 0x002;
    internal const uint IN_ATTRIB = 0x004;
    internal const uint IN_CLOSE_WRITE = 0x008;
    internal const uint IN_MOVED_FROM = 0x040;
    internal const uint IN_MOVED_TO = 0x080;
    internal const uint IN_CREATE = 0x100;
    internal const uint IN_DELETE = 0x200;
    internal const uint IN_DELETE_SELF = 0x400;
    internal const uint IN_MOVE_SELF = 0x800;
    internal const uint IN_Q_OVERFLOW = 0x4000;
    internal const uint IN_IGNORED = 0x8000;
    internal const uint IN_ONLYDIR = 0x01000000;
    internal const uint IN_DONT_FOLLOW = 0x02000000;
    internal const uint IN_EXCL_UNLINK = 0x04000000;
    internal const uint IN_ISDIR = 0x40000000;
    internal const int IN_NONBLOCK = 0x800;
    internal const int IN_CLOEXEC = 0x80000;
    internal const int ENOSPC = 28;
    internal const int EMFILE = 24;

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    internal static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    internal static partial int InotifyRmWatch(int fd, int wd);
}
