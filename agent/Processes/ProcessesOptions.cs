namespace Sandboxd.Processes;

internal sealed class ProcessesOptions
{
    /// <summary>Cap per captured stream of a command (stdout and stderr each); the tail is kept.</summary>
    public int OutputCapBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>SIGTERM → SIGKILL grace for timeouts, cancels and destroys.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Limits of servers that set none of their own (<c>--server-memory-mb</c>, <c>--server-pids-max</c>).</summary>
    public (long? MemoryMb, int? PidsMax) ServerLimits { get; set; }

    /// <summary>The child ledger (pid and start time of every child) in the state directory; null = none kept.</summary>
    public string? LedgerPath { get; set; }
}
