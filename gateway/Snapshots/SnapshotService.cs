using System.Text.Json;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;
using Sandboxd.Gateway.Providers;
using Sandboxd.Gateway.Sandboxes;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Snapshots;

/// <summary>G7–G9: snapshots of a sandbox root (gzip'd tar in <c>&lt;state&gt;/snapshots</c>), listed and deleted per key.</summary>
internal sealed class SnapshotService(ISandboxStore store, IProvider provider, SandboxService sandboxes, TimeProvider time)
{
    public async Task<SnapshotInfo> CreateAsync(Owner owner, CreateSnapshotRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.SandboxId))
        {
            throw new GatewayException(GatewayErrorCode.BadRequest, "sandboxId is required.");
        }

        if (request.Metadata is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
        {
            throw new GatewayException(GatewayErrorCode.BadRequest, "metadata must be a JSON object.");
        }

        var sandbox = await sandboxes.GetReadyAsync(owner, request.SandboxId, cancellationToken);
        var id = Ids.New("snap");
        var archive = await provider.SnapshotAsync(sandbox, id, cancellationToken);
        var metadata = request.Metadata is { ValueKind: JsonValueKind.Object } m ? m.GetRawText() : null;
        var snapshot = new SnapshotRecord(id, owner.KeyHash, sandbox.Id, request.Name, metadata, archive, time.GetUtcNow());
        await store.InsertSnapshotAsync(snapshot, cancellationToken);
        return ToInfo(snapshot);
    }

    public async Task<IReadOnlyList<SnapshotInfo>> ListAsync(Owner owner, CancellationToken cancellationToken) =>
        [.. (await store.ListSnapshotsAsync(owner.KeyHash, cancellationToken)).Select(ToInfo)];

    public async Task DeleteAsync(Owner owner, string id, CancellationToken cancellationToken)
    {
        var snapshot = await store.GetSnapshotAsync(id, cancellationToken);
        if (snapshot is null || snapshot.Owner != owner.KeyHash)
        {
            throw new GatewayException(GatewayErrorCode.NotFound, $"Snapshot {id} not found.");
        }

        // The snapshot goes first (an engine that is down fails the call and keeps the record), then its record.
        await provider.DeleteSnapshotAsync(snapshot.ArchivePath, cancellationToken);
        if (!await store.DeleteSnapshotAsync(id, cancellationToken))
        {
            throw new GatewayException(GatewayErrorCode.NotFound, $"Snapshot {id} not found.");
        }
    }

    private SnapshotInfo ToInfo(SnapshotRecord snapshot)
    {
        JsonElement? metadata = null;
        if (snapshot.MetadataJson is { } json)
        {
            using var document = JsonDocument.Parse(json);
            metadata = document.RootElement.Clone();
        }

        return new SnapshotInfo(snapshot.Id, provider.Name, snapshot.CreatedAt.ToString("O"), metadata, snapshot.Name, snapshot.SandboxId);
    }
}
