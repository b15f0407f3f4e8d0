namespace Sandboxd.Terminals;

internal static partial class TerminalsLog
{
    [LoggerMessage(1200, LogLevel.Information, "Command {CmdId} exceeded its run timeout of {TimeoutMs} ms; stopping its process group")]
    public static partial void CommandTimedOut(this ILogger logger, string cmdId, long timeoutMs);

    [LoggerMessage(1201, LogLevel.Warning, "Could not stop process group {Pid}")]
    public static partial void StopFailed(this ILogger logger, Exception exception, int pid);

    [LoggerMessage(1202, LogLevel.Information, "Terminal {Id} ended with exit code {ExitCode}")]
    public static partial void TerminalEnded(this ILogger logger, string id, int exitCode);
}
