using System.Net;

namespace Sandboxd.Client;

/// <summary>
/// The one exception the client throws for anything the agent refused or could not do: an HTTP error status (with the
/// agent's <c>error</c> text), an agent that could not be reached, a WebSocket that could not be (re)connected, or an
/// overlay copy that failed. Cancellation through the caller's token stays an <see cref="OperationCanceledException"/>.
/// </summary>
public class SandboxdException : Exception
{
    /// <summary>Creates an exception for a failed request or operation.</summary>
    public SandboxdException(string message, HttpStatusCode? statusCode = null, string? error = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Error = error;
    }

    /// <summary>Creates an exception with a message only.</summary>
    public SandboxdException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public SandboxdException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no details.</summary>
    public SandboxdException()
    {
    }

    /// <summary>The HTTP status the agent answered with; null when there was no answer (unreachable agent, lost WebSocket).</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The agent's <c>error</c> text (<c>{"status":"error","error":"…"}</c>), when it sent one.</summary>
    public string? Error { get; }
}
