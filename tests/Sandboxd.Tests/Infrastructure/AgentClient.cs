using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using FluentAssertions;
using Sandboxd.Protocol;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>A small typed HTTP helper over one agent: raw access for shape checks, typed shortcuts for the common calls.</summary>
public sealed class AgentClient : IDisposable
{
    private readonly AgentProcess _agent;

    public AgentClient(AgentProcess agent, string? token)
    {
        _agent = agent;
        // Cookies are set by hand in the tests that need them; no redirects are followed silently.
        Http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false })
        {
            BaseAddress = agent.BaseUrl,
            Timeout = TimeSpan.FromSeconds(100),
        };
        if (token is not null)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public HttpClient Http { get; }

    public static ProtocolJsonContext Wire => ProtocolJsonContext.Default;

    public async Task<ApiResponse> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var description = $"{request.Method} {request.RequestUri}";
        using var response = await Http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return new ApiResponse(response.StatusCode, text, response.Headers, response.Content.Headers, description, () => _agent.StderrTail());
    }

    public Task<ApiResponse> SendAsync(HttpMethod method, string path, string? json, CancellationToken cancellationToken, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        configure?.Invoke(request);
        return SendAsync(request, cancellationToken);
    }

    public Task<ApiResponse> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<ApiResponse> HeadAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Head, path, null, cancellationToken);

    public Task<ApiResponse> DeleteAsync(string path, CancellationToken cancellationToken, string? json = null) =>
        SendAsync(HttpMethod.Delete, path, json, cancellationToken);

    public Task<ApiResponse> PostJsonAsync(string path, string json, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, json, cancellationToken);

    public Task<ApiResponse> PostAsync<T>(string path, T body, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        PostJsonAsync(path, JsonSerializer.Serialize(body, type), cancellationToken);

    /// <summary><c>POST /run/command</c>, expecting 200; returns the typed result.</summary>
    public async Task<CommandResult> RunAsync(RunCommandRequest request, CancellationToken cancellationToken)
    {
        var response = await PostAsync("/run/command", request, Wire.RunCommandRequest, cancellationToken);
        response.ShouldHaveStatus(200);
        return response.Envelope(Wire.EnvelopeCommandResult);
    }

    public Task<CommandResult> RunAsync(string command, CancellationToken cancellationToken) => RunAsync(new RunCommandRequest(command), cancellationToken);

    /// <summary><c>POST /files</c> with content, expecting 200 or 201.</summary>
    public async Task<FileEntry> WriteFileAsync(string path, string? content, CancellationToken cancellationToken)
    {
        var response = await PostAsync("/files", new WriteFileRequest(path, content), Wire.WriteFileRequest, cancellationToken);
        response.Code.Should().BeOneOf([200, 201], response.Describe());
        return response.Envelope(Wire.EnvelopeFileData).File;
    }

    public void Dispose() => Http.Dispose();
}
