namespace Sandboxd.Gateway.Hosting;

internal static partial class HostingLog
{
    [LoggerMessage(100, LogLevel.Error, "Unhandled error in {Method} {Path}")]
    public static partial void Unhandled(this ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(101, LogLevel.Information, "sandboxd-gateway {Version} serving {Url} (state {StateDir}, agent {Agent}, {Keys} API key(s))")]
    public static partial void Serving(this ILogger logger, string version, string url, string stateDir, string agent, int keys);

    [LoggerMessage(102, LogLevel.Warning, "{Method} {Path} failed: {Error}")]
    public static partial void RequestFailed(this ILogger logger, string method, string path, string error);

    [LoggerMessage(103, LogLevel.Critical, "SANDBOXD_GATEWAY_CRASH_AT={Point}: killing this gateway with SIGKILL (test-only fault injection)")]
    public static partial void Crashing(this ILogger logger, string point);
}
