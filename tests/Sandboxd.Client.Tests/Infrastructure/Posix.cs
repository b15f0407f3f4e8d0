using System.Diagnostics;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>Signals by <c>kill(1)</c>: the tests need no interop of their own.</summary>
public static class Posix
{
    public static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Could not run kill.");
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }
}
