using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Errors;

namespace Sandboxd.Core;

/// <summary>
/// The one body binder: reads a JSON body with a clear 4xx for every way it can be wrong (missing, not JSON, wrong type
/// at a given path, too large), instead of the framework's empty 400. A wrong body is a <see cref="SandboxdException"/>,
/// so handlers start with one line and the error body comes from the one mapping in <see cref="Api"/>.
/// </summary>
internal static class RequestBody
{
    /// <summary>The body, which must be present and a JSON value other than <c>null</c>.</summary>
    /// <exception cref="SandboxdException">Invalid or TooLarge.</exception>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class =>
        await ReadOptionalAsync(request, type, cancellationToken).ConfigureAwait(false)
            ?? throw (IsEmpty(request)
                ? SandboxdException.Invalid("A JSON request body is required.")
                : SandboxdException.Invalid("The JSON request body must be an object, not null."));

    /// <summary>The body, or null when there is none (or it is JSON <c>null</c>).</summary>
    /// <exception cref="SandboxdException">Invalid or TooLarge.</exception>
    public static async Task<T?> ReadOptionalAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        if (IsEmpty(request))
        {
            return null;
        }

        try
        {
            return await JsonSerializer.DeserializeAsync(request.Body, type, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            var what = e.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? "a field has the wrong type"
                : "malformed JSON";
            throw SandboxdException.Invalid($"Invalid JSON body: {what}{where} (line {e.LineNumber + 1}, byte {e.BytePositionInLine}).", e);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new SandboxdException(ErrorKind.TooLarge, TooLargeMessage, e);
        }
    }

    public const string TooLargeMessage = "The request body is larger than the agent accepts (--max-body).";

    private static bool IsEmpty(HttpRequest request) =>
        request.ContentLength == 0 || (request.ContentLength is null && !request.Headers.ContainsKey("Transfer-Encoding"));
}
