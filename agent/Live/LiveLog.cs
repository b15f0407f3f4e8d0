namespace Sandboxd.Live;

internal static partial class LiveLog
{
    [LoggerMessage(1300, LogLevel.Debug, "WebSocket {Id} connected (sandbox {Sandbox})")]
    public static partial void Connected(this ILogger logger, long id, string sandbox);

    [LoggerMessage(1301, LogLevel.Debug, "WebSocket {Id} closed: {Reason}")]
    public static partial void Disconnected(this ILogger logger, long id, string reason);
}
