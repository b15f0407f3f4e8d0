namespace Sandboxd.Processes;

internal sealed class ProcessesOptions
{
    /// <summary>Cap per captured stream of a command (stdout and stderr each); the tail is kept.</summary>
    public int OutputCapBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>SIGTERM → SIGKILL grace for timeouts, cancels and destroys.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(2);
}
