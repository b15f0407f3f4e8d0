using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Http;

/// <summary>
/// Sends one request to the agent and turns every non-success answer into <see cref="SandboxdException"/>. Paths are
/// appended verbatim to the base URL (which may carry a prefix such as <c>/s/&lt;subdomain&gt;</c>).
/// </summary>
internal sealed class HttpTransport(HttpClient http, string baseUrl, string? token)
{
    public string BaseUrl { get; } = baseUrl;
    public string? Token { get; } = token;
    public HttpClient Http { get; } = http;

    public async Task<TResponse> SendAsync<TResponse>(HttpMethod method, string path, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(method, path, content: null);
        return await SendCoreAsync(request, responseType, cancellationToken).ConfigureAwait(false);
    }

    public async Task<TResponse> SendAsync<TRequest, TResponse>(
        HttpMethod method, string path, TRequest body, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType,
        CancellationToken cancellationToken)
    {
        using var request = CreateRequest(method, path, JsonContent.Create(body, requestType));
        return await SendCoreAsync(request, responseType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A request whose success answer carries nothing we need (204, or a body we ignore).</summary>
    public async Task SendAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(method, path, content: null);
        using var response = await SendRawAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<TResponse> SendAsync<TRequest, TResponse>(HttpMethod method, string path, TRequest body, JsonTypeInfo<TRequest> requestType,
        Func<HttpResponseMessage, CancellationToken, Task<TResponse>> read, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(method, path, JsonContent.Create(body, requestType));
        using var response = await SendRawAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        return await read(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="content"/> (streamed by the caller's HttpContent) and reads a JSON answer.</summary>
    public async Task<TResponse> SendContentAsync<TResponse>(HttpMethod method, string path, HttpContent content, JsonTypeInfo<TResponse> responseType,
        CancellationToken cancellationToken, Action<HttpRequestMessage>? configure = null)
    {
        using var request = CreateRequest(method, path, content);
        configure?.Invoke(request);
        return await SendCoreAsync(request, responseType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A GET whose body the caller streams: the answer once its headers arrived (a failure throws), to be disposed by the caller.</summary>
    public async Task<HttpResponseMessage> OpenAsync(string path, string accept, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(HttpMethod.Get, path, content: null);
        request.Headers.Accept.ParseAdd(accept);
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new SandboxdException($"GET {request.RequestUri?.AbsolutePath} could not reach the agent at {BaseUrl}: {e.Message}", null, null, e);
        }

        try
        {
            await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>HEAD: true on 2xx, false on 404, <see cref="SandboxdException"/> otherwise.</summary>
    public async Task<bool> ExistsAsync(string path, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(HttpMethod.Head, path, content: null);
        using var response = await SendRawAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public Uri Resolve(string path) => new(BaseUrl + path, UriKind.Absolute);

    /// <summary>Sends; a failure to reach the agent (or a client timeout) becomes <see cref="SandboxdException"/> without a status.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new SandboxdException(
                $"{request.Method} {request.RequestUri?.AbsolutePath} could not reach the agent at {BaseUrl}: {e.Message}", null, null, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SandboxdException(
                $"{request.Method} {request.RequestUri?.AbsolutePath} got no answer within the HttpClient's timeout ({Http.Timeout.TotalSeconds:0.#} s).", null, null, e);
        }
    }

    private HttpRequestMessage CreateRequest(HttpMethod method, string path, HttpContent? content)
    {
        var request = new HttpRequestMessage(method, Resolve(path)) { Content = content };
        if (!string.IsNullOrEmpty(Token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }

        return request;
    }

    private async Task<TResponse> SendCoreAsync<TResponse>(HttpRequestMessage request, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        try
        {
            return await response.Content.ReadFromJsonAsync(responseType, cancellationToken).ConfigureAwait(false)
                ?? throw Unexpected(request, response, "an empty body", null);
        }
        catch (JsonException e)
        {
            throw Unexpected(request, response, "a body that does not match the protocol", e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw Unexpected(request, response, "a body that broke off", e);
        }
    }

    private static SandboxdException Unexpected(HttpRequestMessage request, HttpResponseMessage response, string what, Exception? inner) =>
        new($"{request.Method} {request.RequestUri?.AbsolutePath} answered {(int)response.StatusCode} with {what}; "
            + "check that the URL points at a sandboxd agent of a matching version.", response.StatusCode, null, inner);

    private static async Task EnsureSuccessAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? error = null;
        var body = request.Method == HttpMethod.Head ? "" : await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (body.Length > 0)
        {
            try
            {
                error = JsonSerializer.Deserialize(body, ProtocolJsonContext.Default.ErrorResponse)?.Error;
            }
            catch (JsonException)
            {
                error = body.Length > 200 ? body[..200] + "…" : body;
            }
        }

        var status = (int)response.StatusCode;
        var hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => " Check the token (SANDBOXD_TOKEN / --token).",
            HttpStatusCode.Forbidden => " This operation needs the access token, not a session token.",
            _ => "",
        };
        throw new SandboxdException(
            $"{request.Method} {request.RequestUri?.AbsolutePath} failed with {status} {response.ReasonPhrase}: {error ?? "(no error text)"}.{hint}",
            response.StatusCode, error);
    }
}
