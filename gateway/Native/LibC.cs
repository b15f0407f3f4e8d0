using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxd.Gateway.Native;

/// <summary>The gateway's only interop: signals to agent processes it may no longer be the parent of, and the kernel's CSPRNG.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class LibC
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; <c>false</c> if the process no longer exists (ESRCH).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static partial nint GetRandom(byte* buffer, nuint length, uint flags);

    /// <summary>
    /// <paramref name="count"/> bytes from getrandom(2). The runtime's RandomNumberGenerator goes through OpenSSL on
    /// Linux, which a bare system may not have (docs/adr/0002-no-openssl.md); ids and tokens must not depend on libssl.
    /// </summary>
    public static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        fixed (byte* p = bytes)
        {
            var filled = 0;
            while (filled < count)
            {
                var n = GetRandom(p + filled, (nuint)(count - filled), 0);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == 4) // EINTR
                    {
                        continue;
                    }

                    throw new IOException($"getrandom failed: errno {errno}");
                }

                filled += (int)n;
            }
        }

        return bytes;
    }
}
