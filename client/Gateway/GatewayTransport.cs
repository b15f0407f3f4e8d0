using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Gateway;

/// <summary>
/// Sends one call to the gateway with its API key (gateway-http §2): 404 is "not found" (null / false), 401 and 403
/// become <see cref="SandboxdException"/> with a message that names the cause, any other failure status becomes
/// <see cref="SandboxdException"/> with the gateway's text. Every call is bounded by <see cref="GatewayClientOptions.RequestTimeout"/>.
/// </summary>
internal sealed class GatewayTransport(HttpClient http, string baseUrl, string apiKey, GatewayClientOptions options)
{
    public const string ApiKeyHeader = "X-ComputeSDK-API-Key";

    public string BaseUrl { get; } = baseUrl;

    /// <summary>The envelope of a 2xx answer; null on 404, unless <paramref name="notFoundIsError"/> (a create whose
    /// snapshot or sandbox is unknown): then the gateway's text of the 404 is thrown.</summary>
    public Task<GatewayEnvelope<T>?> SendAsync<TRequest, T>(HttpMethod method, string path, TRequest body, JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<GatewayEnvelope<T>> responseType, CancellationToken cancellationToken, bool notFoundIsError = false) =>
        ExchangeAsync(method, path, JsonContent.Create(body, requestType),
            (response, token) => ReadEnvelopeAsync(method, path, response, responseType, notFoundIsError, token), cancellationToken);

    /// <summary>The envelope of a 2xx answer to a request without a body; null on 404.</summary>
    public Task<GatewayEnvelope<T>?> SendAsync<T>(HttpMethod method, string path, JsonTypeInfo<GatewayEnvelope<T>> responseType,
        CancellationToken cancellationToken) =>
        ExchangeAsync(method, path, content: null,
            (response, token) => ReadEnvelopeAsync(method, path, response, responseType, notFoundIsError: false, token), cancellationToken);

    /// <summary>A call whose answer carries nothing we need: true on 2xx, false on 404.</summary>
    public Task<bool> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken) =>
        ExchangeAsync(method, path, content, async (response, token) =>
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }

            await EnsureSuccessAsync(method, path, response, token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task<TResult> ExchangeAsync<TResult>(HttpMethod method, string path, HttpContent? content,
        Func<HttpResponseMessage, CancellationToken, Task<TResult>> read, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.RequestTimeout);
        using var request = new HttpRequestMessage(method, new Uri(BaseUrl + path, UriKind.Absolute)) { Content = content };
        request.Headers.TryAddWithoutValidation(ApiKeyHeader, apiKey);
        if (options.Provider is { Length: > 0 } provider)
        {
            request.Headers.TryAddWithoutValidation("X-Provider", provider);
        }

        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            return await read(response, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SandboxdException(
                $"{method} {path} got no answer from the gateway at {BaseUrl} within {options.RequestTimeout.TotalSeconds:0.#} s.", null, null, e);
        }
        catch (HttpRequestException e)
        {
            throw new SandboxdException($"{method} {path} could not reach the gateway at {BaseUrl}: {e.Message}", null, null, e);
        }
    }

    private async Task<GatewayEnvelope<T>?> ReadEnvelopeAsync<T>(HttpMethod method, string path, HttpResponseMessage response,
        JsonTypeInfo<GatewayEnvelope<T>> responseType, bool notFoundIsError, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.NotFound && !notFoundIsError)
        {
            return null;
        }

        await EnsureSuccessAsync(method, path, response, cancellationToken).ConfigureAwait(false);
        try
        {
            return await response.Content.ReadFromJsonAsync(responseType, cancellationToken).ConfigureAwait(false)
                ?? new GatewayEnvelope<T>(Success: false);
        }
        catch (JsonException e)
        {
            throw new SandboxdException($"{method} {path} answered {(int)response.StatusCode} with a body that is not the gateway's "
                + "{success, data} envelope; check that the URL points at a sandboxd gateway.", response.StatusCode, null, e);
        }
    }

    private async Task EnsureSuccessAsync(HttpMethod method, string path, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        body = ErrorText(body) ?? (body.Length > 300 ? body[..300] + "…" : body);
        var message = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"Invalid API key: the gateway at {BaseUrl} refused {method} {path} (401). "
                + "Check the key given to GatewayClient against the gateway's --api-key flags or keys file.",
            HttpStatusCode.Forbidden => $"Access forbidden: the gateway at {BaseUrl} refused {method} {path} (403); "
                + $"the API key may not use provider \"{options.Provider}\".",
            _ => $"{method} {path} failed at the gateway with {(int)response.StatusCode} {response.ReasonPhrase}: "
                + (body.Length > 0 ? body : "(no error text)"),
        };
        throw new SandboxdException(message, response.StatusCode, body.Length > 0 ? body : null);
    }

    /// <summary>The <c>error</c> of a <c>{success:false, error}</c> body, or null for any other body.</summary>
    private static string? ErrorText(string body)
    {
        try
        {
            return body.Length > 0 ? JsonSerializer.Deserialize(body, GatewayJsonContext.Default.GatewayErrorResponse)?.Error : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
