using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Gateway.Protocol;

namespace Sandboxd.Gateway.Hosting;

/// <summary>The <c>{success, data}</c> envelope and request-body reading, in one place.</summary>
internal static class Api
{
    private const int MaxBodyBytes = 1024 * 1024;

    /// <summary><c>200 {"success":true,"data":…}</c>; every error is a <see cref="GatewayException"/> mapped in one place.</summary>
    public static Ok<Envelope<T>> Ok<T>(T data) => TypedResults.Ok(new Envelope<T>(true, data));

    public static Ok<SuccessResponse> Success() => TypedResults.Ok(new SuccessResponse());

    public static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorResponse(message), GatewayJsonContext.Default.ErrorResponse);
    }

    /// <summary>Reads a JSON body; an empty body is <c>null</c>; malformed JSON or wrong field types are a 400.</summary>
    public static async Task<T?> ReadBodyAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new GatewayException(GatewayErrorCode.BadRequest, $"The request body is larger than {MaxBodyBytes} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), typeInfo);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 1 } path ? $" at {path}" : "";
            throw new GatewayException(GatewayErrorCode.BadRequest, $"The request body is not valid JSON for this route{where}: {e.Message.Split(" Path:")[0]}", e);
        }
    }
}
