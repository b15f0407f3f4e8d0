namespace Sandboxd.Auth;

internal static partial class AuthLog
{
    [LoggerMessage(103, LogLevel.Warning, "No access token given: generated one and stored it in {Path} (mode 0600)")]
    public static partial void TokenGenerated(this ILogger logger, string path);

    [LoggerMessage(104, LogLevel.Information, "Using the access token stored in {Path}")]
    public static partial void TokenReused(this ILogger logger, string path);

    [LoggerMessage(110, LogLevel.Warning, "Could not erase the access token from this process's command line and environment (/proc/self/stat gave no argv/environ range): give it in a file (--access-token-file)")]
    public static partial void SecretsNotErased(this ILogger logger);
}
