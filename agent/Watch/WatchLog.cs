namespace Sandboxd.Watch;

internal static partial class WatchLog
{
    [LoggerMessage(1400, LogLevel.Warning, "Watcher {Id}: {Warning}")]
    public static partial void WatcherWarning(this ILogger logger, string id, string warning);
}
