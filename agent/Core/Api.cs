using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Errors;
using Sandboxd.Protocol;

namespace Sandboxd.Core;

/// <summary>
/// The wire shapes every endpoint answers with: envelope, top-level object, or the error body — and the one map from
/// an <see cref="ErrorKind"/> to its HTTP status. Nothing else in the agent writes an error body or picks an error status.
/// </summary>
internal static class Api
{
    public static JsonHttpResult<Envelope<T>> Ok<T>(T data, JsonTypeInfo<Envelope<T>> type, string message = "ok", int status = StatusCodes.Status200OK) =>
        TypedResults.Json(new Envelope<T>(data, message), type, statusCode: status);

    public static JsonHttpResult<T> Raw<T>(T body, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK) =>
        TypedResults.Json(body, type, statusCode: status);

    public static JsonHttpResult<ErrorResponse> Error(ErrorKind kind, string message) =>
        TypedResults.Json(new ErrorResponse(message), ProtocolJsonContext.Default.ErrorResponse, statusCode: StatusOf(kind));

    public static JsonHttpResult<ErrorResponse> Error(SandboxdException error) => Error(error.Kind, error.Message);

    public static JsonHttpResult<ErrorResponse> BadRequest(string message) => Error(ErrorKind.Invalid, message);

    public static JsonHttpResult<ErrorResponse> NotFound(string message) => Error(ErrorKind.NotFound, message);

    public static NoContent NoContent() => TypedResults.NoContent();

    /// <summary>The status of each kind on the wire (shared/protocol/daemon-http.md).</summary>
    public static int StatusOf(ErrorKind kind) => kind switch
    {
        ErrorKind.Invalid => StatusCodes.Status400BadRequest,
        ErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.Timeout => StatusCodes.Status408RequestTimeout,
        ErrorKind.Conflict => StatusCodes.Status409Conflict,
        ErrorKind.Gone => StatusCodes.Status410Gone,
        ErrorKind.PreconditionFailed => StatusCodes.Status412PreconditionFailed,
        ErrorKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorKind.UpgradeRequired => StatusCodes.Status426UpgradeRequired,
        ErrorKind.BadGateway => StatusCodes.Status502BadGateway,
        ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ErrorKind.InsufficientStorage => StatusCodes.Status507InsufficientStorage,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>
    /// The kind of a status the framework chose (a <see cref="BadHttpRequestException"/>: 400, 408 or 413), so that
    /// its failures go through the same map.
    /// </summary>
    public static ErrorKind KindOf(int status) => status switch
    {
        StatusCodes.Status408RequestTimeout => ErrorKind.Timeout,
        StatusCodes.Status413PayloadTooLarge => ErrorKind.TooLarge,
        StatusCodes.Status415UnsupportedMediaType => ErrorKind.UnsupportedMediaType,
        >= 400 and < 500 => ErrorKind.Invalid,
        _ => ErrorKind.Internal,
    };

    /// <summary>The error body written straight to the response, for middleware that answers before any endpoint.</summary>
    public static Task WriteErrorAsync(HttpContext context, ErrorKind kind, string message) =>
        WriteErrorAsync(context, StatusOf(kind), message);

    /// <summary>
    /// The error body with a status the framework already chose (its own 404/405/415 and <see cref="BadHttpRequestException"/>s).
    /// </summary>
    public static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, new ErrorResponse(message), ProtocolJsonContext.Default.ErrorResponse, context.RequestAborted);
    }
}
