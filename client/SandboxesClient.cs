using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Child sandboxes (<c>/sandboxes</c>); talk to one with <see cref="SandboxClient.ForChild"/>.</summary>
public sealed class SandboxesClient
{
    private readonly SandboxClient _client;

    internal SandboxesClient(SandboxClient client) => _client = client;

    /// <summary>Creates a child sandbox (idempotent by name + namespace), with its overlays and servers.</summary>
    public Task<SandboxInfo> CreateAsync(CreateSandboxRequest? request = null, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Post, "/sandboxes", request ?? new CreateSandboxRequest(),
            ProtocolJsonContext.Default.CreateSandboxRequest, ProtocolJsonContext.Default.SandboxInfo, cancellationToken);

    /// <summary>The main sandbox first, then the children by creation.</summary>
    public async Task<IReadOnlyList<SandboxInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/sandboxes", ProtocolJsonContext.Default.SandboxList, cancellationToken)
            .ConfigureAwait(false)).Sandboxes;

    /// <summary>One sandbox.</summary>
    public Task<SandboxInfo> GetAsync(string subdomain, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Get, "/sandboxes/" + Uri.EscapeDataString(subdomain), ProtocolJsonContext.Default.SandboxInfo,
            cancellationToken);

    /// <summary>Deletes a child (its servers, terminals and watchers stop); its directory is removed only with <paramref name="deleteFiles"/>.</summary>
    public Task DeleteAsync(string subdomain, bool deleteFiles = false, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete,
            "/sandboxes/" + Uri.EscapeDataString(subdomain) + "?delete_files=" + (deleteFiles ? "true" : "false"), cancellationToken);
}
