namespace Sandboxd.Gateway.Hosting;

/// <summary>What went wrong, mapped to an HTTP status in one place (<see cref="ErrorHandlingMiddleware"/>).</summary>
internal enum GatewayErrorCode { BadRequest, NotFound, Conflict, AgentFailed, Unavailable }

/// <summary>A failure a handler cannot recover from; its message is a full sentence for the caller.</summary>
internal sealed class GatewayException(GatewayErrorCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public GatewayErrorCode Code { get; } = code;

    public int StatusCode => Code switch
    {
        GatewayErrorCode.BadRequest => StatusCodes.Status400BadRequest,
        GatewayErrorCode.NotFound => StatusCodes.Status404NotFound,
        GatewayErrorCode.Conflict => StatusCodes.Status409Conflict,
        GatewayErrorCode.AgentFailed => StatusCodes.Status502BadGateway,
        _ => StatusCodes.Status503ServiceUnavailable,
    };
}
