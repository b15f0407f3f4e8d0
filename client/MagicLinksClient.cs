using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Magic links (<c>/auth/magic-links</c>): one-time browser sign-in URLs; needs the access token.</summary>
public sealed class MagicLinksClient
{
    private readonly SandboxClient _client;

    internal MagicLinksClient(SandboxClient client) => _client = client;

    /// <summary>Creates a one-time link (valid 5 minutes) that signs a browser in and redirects it to <paramref name="redirectUrl"/>.</summary>
    public async Task<MagicLinkData> CreateAsync(string? redirectUrl = null, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, "/auth/magic-links", new CreateMagicLinkRequest(redirectUrl),
            ProtocolJsonContext.Default.CreateMagicLinkRequest, ProtocolJsonContext.Default.EnvelopeMagicLinkData, cancellationToken).ConfigureAwait(false)).Data;
}
