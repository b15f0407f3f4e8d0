using System.Runtime.InteropServices;

namespace Sandboxd.Native;

internal static unsafe partial class LibC
{
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, RLimit* limit);

    /// <summary>
    /// Raises the soft limit on open files to the hard limit, as the CoreCLR host (and Go) do at start-up but native AOT
    /// does not: every PTY, pipe, pidfd and socket is a descriptor, and a login shell's usual soft limit of 1024 would
    /// stop the agent near 300 terminals. Returns (before, after) soft limits; unchanged when it cannot be raised.
    /// </summary>
    internal static (ulong Before, ulong After) RaiseOpenFileLimit()
    {
        RLimit limit;
        if (GetRLimit(RLIMIT_NOFILE, &limit) != 0)
        {
            return (0, 0);
        }

        var before = limit.Current;
        if (limit.Current >= limit.Maximum)
        {
            return (before, before);
        }

        limit.Current = limit.Maximum;
        return SetRLimit(RLIMIT_NOFILE, &limit) == 0 ? (before, limit.Maximum) : (before, before);
    }
}
