namespace Sandboxd.Hosting;

internal static partial class HostingLog
{
    [LoggerMessage(100, LogLevel.Error, "Unhandled error in {Method} {Path}")]
    public static partial void Unhandled(this ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(101, LogLevel.Information, "sandboxd {Version} serving {Url} (root {Root})")]
    public static partial void Serving(this ILogger logger, string version, string url, string root);

    [LoggerMessage(102, LogLevel.Warning, "AUTHENTICATION IS DISABLED (--insecure-no-auth): anyone who can reach {Url} can run commands as this user")]
    public static partial void AuthDisabled(this ILogger logger, string url);

    [LoggerMessage(105, LogLevel.Information, "Open-file limit raised from {Before} to {After} (children inherit it)")]
    public static partial void OpenFileLimitRaised(this ILogger logger, ulong before, ulong after);

    [LoggerMessage(106, LogLevel.Warning, "Open-file limit is {Limit}: each terminal, command and watcher needs descriptors; raise it (ulimit -n / LimitNOFILE) for many terminals")]
    public static partial void OpenFileLimitLow(this ILogger logger, ulong limit);

    [LoggerMessage(107, LogLevel.Information, "Commands, terminals and servers run as {User} (uid {Uid}); the token and state are root's")]
    public static partial void RunAs(this ILogger logger, string user, uint uid);

    [LoggerMessage(108, LogLevel.Warning, "The workload is not isolated from the agent: {Reason}")]
    public static partial void NotIsolated(this ILogger logger, string reason);

    [LoggerMessage(120, LogLevel.Information, "Workload limits (memory_mb, pids_max): cgroup {Version} at {Directory}")]
    public static partial void LimitsAvailable(this ILogger logger, string version, string directory);

    [LoggerMessage(121, LogLevel.Warning, "Workload limits (memory_mb, pids_max) cannot be set: {Reason}")]
    public static partial void LimitsUnavailable(this ILogger logger, string reason);
}
