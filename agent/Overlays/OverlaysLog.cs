namespace Sandboxd.Overlays;

internal static partial class OverlaysLog
{
    [LoggerMessage(1700, LogLevel.Warning, "Overlay {Id} failed: {Reason}")]
    public static partial void OverlayFailed(this ILogger logger, string id, string reason);
}
