using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Protocol;

namespace Sandboxd.Core;

/// <summary>The wire shapes every endpoint answers with: envelope, top-level object, or the error body.</summary>
internal static class Api
{
    public static IResult Ok<T>(T data, JsonTypeInfo<Envelope<T>> type, string message = "ok", int status = StatusCodes.Status200OK) =>
        TypedResults.Json(new Envelope<T>(data, message), type, statusCode: status);

    public static IResult Raw<T>(T body, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK) =>
        TypedResults.Json(body, type, statusCode: status);

    public static IResult Error(int status, string message) =>
        TypedResults.Json(new ErrorResponse(message), ProtocolJsonContext.Default.ErrorResponse, statusCode: status);

    public static IResult BadRequest(string message) => Error(StatusCodes.Status400BadRequest, message);

    public static IResult NotFound(string message) => Error(StatusCodes.Status404NotFound, message);

    public static IResult NoContent() => TypedResults.NoContent();

    public static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, new ErrorResponse(message), ProtocolJsonContext.Default.ErrorResponse, context.RequestAborted);
    }
}
