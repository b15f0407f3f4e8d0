using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Health, info and readiness (<c>/health</c>, <c>/info</c>, <c>/ready</c>; public routes).</summary>
public sealed class InfoClient
{
    private readonly SandboxClient _client;

    internal InfoClient(SandboxClient client) => _client = client;

    /// <summary>Liveness: <c>{status:"ok", timestamp}</c>.</summary>
    public Task<HealthResponse> HealthAsync(CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Get, "/health", ProtocolJsonContext.Default.HealthResponse, cancellationToken);

    /// <summary>The agent: version, auth, main sandbox, sandbox count.</summary>
    public async Task<InfoData> GetAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/info", ProtocolJsonContext.Default.EnvelopeInfoData, cancellationToken)
            .ConfigureAwait(false)).Data;

    /// <summary>Readiness: every server has a port and every overlay is copied.</summary>
    public Task<ReadyResponse> ReadyAsync(CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Get, "/ready", ProtocolJsonContext.Default.ReadyResponse, cancellationToken);
}
