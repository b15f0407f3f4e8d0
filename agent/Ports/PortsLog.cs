namespace Sandboxd.Ports;

internal static partial class PortsLog
{
    [LoggerMessage(1500, LogLevel.Debug, "Port {Port} on {Address}: {Change} (pid {Pid})")]
    public static partial void PortChanged(this ILogger logger, int port, string address, string change, int pid);

    [LoggerMessage(1501, LogLevel.Information,
        "Netlink sock_diag is refused here (errno {Errno}: {Error}): listening ports are read from /proc/net/tcp and /proc/net/tcp6 instead, which costs more CPU with many connections")]
    public static partial void NetlinkRefused(this ILogger logger, int errno, string error);

    [LoggerMessage(1502, LogLevel.Debug, "Netlink sock_diag dump failed (errno {Errno}: {Error}): this scan reads /proc/net/tcp; the next opens a new socket")]
    public static partial void NetlinkFailed(this ILogger logger, int errno, string error);

    [LoggerMessage(1503, LogLevel.Error, "A subscriber to port changes failed on port {Port}; the scanner goes on")]
    public static partial void SubscriberFailed(this ILogger logger, Exception exception, int port);
}
