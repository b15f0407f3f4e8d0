using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Authentication status and help (<c>/auth/status</c>, <c>/auth/info</c>; public routes).</summary>
public sealed class AuthClient
{
    private readonly SandboxClient _client;

    internal AuthClient(SandboxClient client) => _client = client;

    /// <summary>Whether this client's token is valid, and which kind it is.</summary>
    public async Task<AuthStatusData> StatusAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/auth/status", ProtocolJsonContext.Default.EnvelopeAuthStatusData, cancellationToken)
            .ConfigureAwait(false)).Data;

    /// <summary>The agent's description of its authentication endpoints.</summary>
    public async Task<AuthInfoData> InfoAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/auth/info", ProtocolJsonContext.Default.EnvelopeAuthInfoData, cancellationToken)
            .ConfigureAwait(false)).Data;
}
