namespace Sandboxd.Auth;

internal static partial class AuthLog
{
    [LoggerMessage(103, LogLevel.Warning, "No access token given: generated one and stored it in {Path} (mode 0600)")]
    public static partial void TokenGenerated(this ILogger logger, string path);

    [LoggerMessage(104, LogLevel.Information, "Using the access token stored in {Path}")]
    public static partial void TokenReused(this ILogger logger, string path);
}
