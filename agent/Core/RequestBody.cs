using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sandboxd.Core;

/// <summary>
/// Reads a JSON body with a clear 4xx for every way it can be wrong (missing, not JSON, wrong type at a given path,
/// too large), instead of the framework's empty 400.
/// </summary>
internal static class RequestBody
{
    public readonly record struct Result<T>(T? Value, IResult? Error) where T : class;

    public static async Task<Result<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, bool optional, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength == 0 || (request.ContentLength is null && !request.Headers.ContainsKey("Transfer-Encoding")))
        {
            return optional ? new(null, null) : new(null, Api.BadRequest("A JSON request body is required."));
        }

        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, type, cancellationToken).ConfigureAwait(false);
            if (value is null)
            {
                return optional ? new(null, null) : new(null, Api.BadRequest("The JSON request body must be an object, not null."));
            }

            return new(value, null);
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            var what = e.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? "a field has the wrong type"
                : "malformed JSON";
            return new(null, Api.BadRequest($"Invalid JSON body: {what}{where} (line {e.LineNumber + 1}, byte {e.BytePositionInLine})."));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(null, Api.Error(StatusCodes.Status413PayloadTooLarge, "The request body is larger than the agent accepts (--max-body)."));
        }
    }
}
