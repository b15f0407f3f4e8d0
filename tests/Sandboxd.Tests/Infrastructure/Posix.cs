using System.Runtime.InteropServices;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>The few libc calls the tests need to signal real processes.</summary>
internal static partial class Posix
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int KillNative(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; false when the process does not exist (ESRCH).</summary>
    public static bool Kill(int pid, int signal) => KillNative(pid, signal) == 0;
}
