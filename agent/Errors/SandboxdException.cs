namespace Sandboxd.Errors;

/// <summary>
/// The one exception the agent's services throw for a failure the caller should see: a kind and a sentence saying
/// what to do next. <c>Hosting/ErrorHandlingMiddleware</c> turns it into the protocol's error body; no service knows
/// HTTP status codes.
/// </summary>
internal sealed class SandboxdException(ErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public ErrorKind Kind { get; } = kind;

    public static SandboxdException Invalid(string message, Exception? inner = null) => new(ErrorKind.Invalid, message, inner);

    public static SandboxdException NotFound(string message, Exception? inner = null) => new(ErrorKind.NotFound, message, inner);

    public static SandboxdException Conflict(string message) => new(ErrorKind.Conflict, message);
}
