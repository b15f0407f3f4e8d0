namespace Sandboxd.Gateway.Sandboxes;

internal static partial class SandboxesLog
{
    [LoggerMessage(2000, LogLevel.Information, "Sandbox {SandboxId} ready (namespace '{Namespace}', name '{Name}') at {Url}")]
    public static partial void Created(this ILogger logger, string sandboxId, string @namespace, string name, string url);

    [LoggerMessage(2001, LogLevel.Error, "Sandbox {SandboxId} could not be started")]
    public static partial void CreateFailed(this ILogger logger, Exception exception, string sandboxId);

    [LoggerMessage(2002, LogLevel.Information, "Sandbox {SandboxId} gone: {Reason}")]
    public static partial void Destroyed(this ILogger logger, string sandboxId, string reason);

    [LoggerMessage(2003, LogLevel.Warning, "Sandbox {SandboxId}: agent pid {Pid} is gone ({Reason}); the sandbox is reported gone, not restarted")]
    public static partial void AgentDied(this ILogger logger, string sandboxId, int pid, string reason);

    [LoggerMessage(2004, LogLevel.Information, "Sandbox {SandboxId} now expires at {ExpiresAt:O}")]
    public static partial void Extended(this ILogger logger, string sandboxId, DateTimeOffset expiresAt);

    [LoggerMessage(2005, LogLevel.Warning, "Sandbox {SandboxId}: cleanup failed: {Error}")]
    public static partial void CleanupFailed(this ILogger logger, string sandboxId, string error);

    [LoggerMessage(2006, LogLevel.Information, "Sandbox {SandboxId}: agent pid {Pid} still serves {Url}; kept")]
    public static partial void Reattached(this ILogger logger, string sandboxId, int pid, string url);

    [LoggerMessage(2008, LogLevel.Warning, "Sandbox {SandboxId}: its Docker engine {Engine} is down; kept as unavailable")]
    public static partial void Unreachable(this ILogger logger, string sandboxId, string engine);

    [LoggerMessage(2009, LogLevel.Information, "Sandbox {SandboxId}: its engine restarted it; it now answers at {Url}")]
    public static partial void Moved(this ILogger logger, string sandboxId, string url);

    [LoggerMessage(2007, LogLevel.Error, "Background sweep failed")]
    public static partial void SweepFailed(this ILogger logger, Exception exception);

    [LoggerMessage(2008, LogLevel.Information, "This gateway {Change} the sweep lease (expiry and repair of sandboxes run on its holder only)")]
    public static partial void SweepLease(this ILogger logger, string change);

    [LoggerMessage(2009, LogLevel.Warning, "Sandbox {SandboxId} was left {Status} by gateway {Gateway}, which is gone; repairing it")]
    public static partial void Orphaned(this ILogger logger, string sandboxId, string status, string gateway);
}
