using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxd.Gateway.Native;

/// <summary>The gateway's only interop: signals to agent processes it may no longer be the parent of.</summary>
[SupportedOSPlatform("linux")]
internal static partial class LibC
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; <c>false</c> if the process no longer exists (ESRCH).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && Kill(pid, signal) == 0;
}
