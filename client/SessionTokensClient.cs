using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Session tokens (<c>/auth/session_tokens</c>): delegated credentials; managing them needs the access token.</summary>
public sealed class SessionTokensClient
{
    private readonly SandboxClient _client;

    internal SessionTokensClient(SandboxClient client) => _client = client;

    /// <summary>Mints a session token (default lifetime 7 days); <see cref="SessionTokenCreated.Token"/> is shown only here.</summary>
    public Task<SessionTokenCreated> CreateAsync(string? description = null, TimeSpan? expiresIn = null, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Post, "/auth/session_tokens", new CreateSessionTokenRequest(description, expiresIn?.TotalSeconds),
            ProtocolJsonContext.Default.CreateSessionTokenRequest, ProtocolJsonContext.Default.SessionTokenCreated, cancellationToken);

    /// <summary>The live (not revoked, not expired) session tokens, oldest first.</summary>
    public async Task<IReadOnlyList<SessionTokenItem>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/auth/session_tokens", ProtocolJsonContext.Default.EnvelopeSessionTokenList, cancellationToken)
            .ConfigureAwait(false)).Data.Tokens;

    /// <summary>One session token (never its secret).</summary>
    public Task<SessionTokenDetails> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Get, "/auth/session_tokens/" + Uri.EscapeDataString(id), ProtocolJsonContext.Default.SessionTokenDetails,
            cancellationToken);

    /// <summary>Revokes a session token (its open WebSockets are closed).</summary>
    public Task RevokeAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, "/auth/session_tokens/" + Uri.EscapeDataString(id), cancellationToken);
}
