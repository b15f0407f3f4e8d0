using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static partial nint GetRandom(byte* buffer, nuint length, uint flags);

    /// <summary>
    /// Fills <paramref name="buffer"/> from the kernel's CSPRNG (getrandom(2)). The runtime's RandomNumberGenerator goes
    /// through OpenSSL on Linux, which a bare system may not have; ids and tokens must not depend on libssl.
    /// </summary>
    internal static void FillRandom(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            var filled = 0;
            while (filled < buffer.Length)
            {
                var n = GetRandom(p + filled, (nuint)(buffer.Length - filled), 0);
                if (n < 0)
                {
                    if (LastErrno == EINTR)
                    {
                        continue;
                    }

                    throw Error("getrandom");
                }

                filled += (int)n;
            }
        }
    }

    internal static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        FillRandom(bytes);
        return bytes;
    }
}
