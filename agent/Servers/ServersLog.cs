namespace Sandboxd.Servers;

internal static partial class ServersLog
{
    [LoggerMessage(1600, LogLevel.Information, "Server {Slug}: {Status}")]
    public static partial void StatusChanged(this ILogger logger, string slug, string status);

    [LoggerMessage(1601, LogLevel.Warning, "Server {Slug} failed: {Reason}")]
    public static partial void ServerFailed(this ILogger logger, string slug, string reason);

    [LoggerMessage(1602, LogLevel.Information, "Server {Slug} exited with {ExitCode}; restarting in {DelayMs} ms (restart {Count})")]
    public static partial void Restarting(this ILogger logger, string slug, int exitCode, long delayMs, int count);

    [LoggerMessage(1603, LogLevel.Error, "Could not persist server definitions")]
    public static partial void PersistFailed(this ILogger logger, Exception exception);

    [LoggerMessage(1604, LogLevel.Error, "Could not read persisted server definitions")]
    public static partial void RestoreFailed(this ILogger logger, Exception exception);

    [LoggerMessage(1605, LogLevel.Warning, "Persisted server {Slug} is invalid and was skipped: {Error}")]
    public static partial void RestoreInvalid(this ILogger logger, string slug, string error);

    [LoggerMessage(1606, LogLevel.Information, "Stopping leftover process group {Pid} of server {Slug} from a previous agent")]
    public static partial void StoppingLeftover(this ILogger logger, string slug, int pid);

    [LoggerMessage(1607, LogLevel.Information, "Server {Slug} listens on {Address}:{Port}")]
    public static partial void PortFound(this ILogger logger, string slug, string address, int port);

    [LoggerMessage(1608, LogLevel.Warning, "Server {Slug}: its port {Port} was taken by another process before it listened; starting it again on another port")]
    public static partial void PortCollision(this ILogger logger, string slug, int port);
}
