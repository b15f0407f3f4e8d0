using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Gateway;

/// <summary>
/// A sandbox the gateway created or found: its id, what the gateway said about it, and a <see cref="SandboxClient"/>
/// for its daemon that already answered <c>GET /health</c>. Disposing it closes that client only; the sandbox lives on
/// until <see cref="DestroyAsync"/> (or its timeout).
/// </summary>
public sealed class GatewaySandbox : IAsyncDisposable
{
    private readonly GatewayClient _gateway;

    internal GatewaySandbox(GatewayClient gateway, string id, GatewaySandboxInfo info, SandboxClient client)
    {
        _gateway = gateway;
        Id = id;
        Info = info;
        Client = client;
    }

    /// <summary>The sandbox id (the gateway's <c>sandboxId</c>, or the id it was looked up by).</summary>
    public string Id { get; }

    /// <summary>The gateway's answer as received.</summary>
    public GatewaySandboxInfo Info { get; }

    /// <summary>The backend that serves the sandbox (e.g. <c>local</c>).</summary>
    public string? Provider => Info.Provider;

    /// <summary>The metadata given at creation.</summary>
    public JsonElement? Metadata => Info.Metadata;

    /// <summary>The name (findOrCreate / find / named create).</summary>
    public string? Name => Info.Name;

    /// <summary>The namespace (findOrCreate / find / named create).</summary>
    public string? Namespace => Info.Namespace;

    /// <summary>The sandbox's daemon: run commands, files, terminals… (see <see cref="SandboxClient"/>).</summary>
    public SandboxClient Client { get; }

    /// <summary>Pushes the expiry by <paramref name="duration"/> (default 15 min).</summary>
    public Task ExtendAsync(TimeSpan? duration = null, CancellationToken cancellationToken = default) =>
        _gateway.ExtendAsync(Id, duration, cancellationToken);

    /// <summary>Snapshots this sandbox.</summary>
    public Task<GatewaySnapshotInfo> CreateSnapshotAsync(string? name = null, IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default) =>
        _gateway.CreateSnapshotAsync(Id, name, metadata, cancellationToken);

    /// <summary>Closes the client's WebSocket, then destroys the sandbox at the gateway (as the official client's
    /// <c>sandbox.destroy()</c>): true when the gateway destroyed it, false when it was already gone.</summary>
    public async Task<bool> DestroyAsync(CancellationToken cancellationToken = default)
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        return await _gateway.DestroyAsync(Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the sandbox's client (the sandbox keeps running).</summary>
    public ValueTask DisposeAsync() => Client.DisposeAsync();
}
