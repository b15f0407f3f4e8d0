using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxd.Native;

/// <summary>The agent's only bindings to libc. C constant names on purpose (they match the man pages).</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class LibC
{
    internal const int EPERM = 1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EIO = 5;
    internal const int ECHILD = 10;
    internal const int ESRCH = 3;
    internal const int ENOENT = 2;

    internal const int O_RDONLY = 0;
    internal const int O_WRONLY = 1;
    internal const int O_RDWR = 2;
    internal const int O_NOCTTY = 0x100;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;

    internal const int SIGHUP = 1;
    internal const int SIGINT = 2;
    internal const int SIGKILL = 9;
    internal const int SIGTERM = 15;
    internal const int SIGWINCH = 28;

    internal const int WNOHANG = 1;
    internal const int PR_SET_CHILD_SUBREAPER = 36;
    internal const int PR_SET_PDEATHSIG = 1;

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    internal static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "getpid")]
    internal static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial nint Syscall2(nint number, nint arg1, nint arg2);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    internal const int SYS_pidfd_open = 434;

    internal static int LastErrno => Marshal.GetLastPInvokeError();

    internal static Win32Exception Error(string operation) =>
        new(Marshal.GetLastPInvokeError(), $"{operation} failed");

    internal static int ThrowIfFailed(int result, string operation) =>
        result >= 0 ? result : throw Error(operation);
}
