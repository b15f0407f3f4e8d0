namespace Sandboxd.Processes;

internal static partial class ProcessesLog
{
    [LoggerMessage(1000, LogLevel.Debug, "Spawned pid {Pid}: {Program}")]
    public static partial void Spawned(this ILogger logger, int pid, string program);

    [LoggerMessage(1001, LogLevel.Information, "Reaped {Count} orphaned process(es)")]
    public static partial void ReapedOrphans(this ILogger logger, int count);

    [LoggerMessage(1002, LogLevel.Warning, "Could not become a child subreaper; orphaned grandchildren will be reaped by init")]
    public static partial void NoSubreaper(this ILogger logger);

    [LoggerMessage(1003, LogLevel.Information, "Stopping {Count} child process group(s)")]
    public static partial void StoppingAll(this ILogger logger, int count);

    [LoggerMessage(1004, LogLevel.Warning, "Stopping process group {Pid} failed")]
    public static partial void StopFailed(this ILogger logger, Exception exception, int pid);

    [LoggerMessage(1005, LogLevel.Warning, "Stopped {Count} process(es) a previous agent on this state directory left running (ledger {Path})")]
    public static partial void StoppedLeftovers(this ILogger logger, int count, string path);

    [LoggerMessage(1006, LogLevel.Warning, "Could not write the child ledger {Path}; children of this agent may outlive a crash of it")]
    public static partial void LedgerFailed(this ILogger logger, Exception exception, string path);
}
