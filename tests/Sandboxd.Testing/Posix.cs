using System.Runtime.InteropServices;

namespace Sandboxd.Testing;

/// <summary>The few libc calls the tests need to signal real processes.</summary>
public static class Posix
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int KillNative(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; false when the process does not exist (ESRCH).</summary>
    public static bool Kill(int pid, int signal) => KillNative(pid, signal) == 0;

    /// <summary>Sends the signal named <paramref name="signal"/> (<c>TERM</c>, <c>KILL</c>, <c>INT</c>, …); false when the
    /// process does not exist.</summary>
    public static Task<bool> SignalAsync(int pid, string signal) => Task.FromResult(Kill(pid, Number(signal)));

    private static int Number(string name) => name.ToUpperInvariant().Replace("SIG", "", StringComparison.Ordinal) switch
    {
        "HUP" => 1,
        "INT" => SIGINT,
        "QUIT" => 3,
        "KILL" => SIGKILL,
        "USR1" => 10,
        "USR2" => 12,
        "TERM" => SIGTERM,
        "CONT" => 18,
        "STOP" => 19,
        var other => int.TryParse(other, out var n) ? n : throw new ArgumentException($"Unknown signal {name}.", nameof(name)),
    };
}
