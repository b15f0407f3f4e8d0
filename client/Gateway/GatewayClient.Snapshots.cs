using Sandboxd.Protocol;

namespace Sandboxd.Client.Gateway;

/// <summary>Snapshots (G7–G9).</summary>
public sealed partial class GatewayClient
{
    /// <summary>Snapshots the sandbox <paramref name="sandboxId"/> (G7); restore it with
    /// <see cref="CreateGatewaySandboxRequest.SnapshotId"/>.</summary>
    public async Task<GatewaySnapshotInfo> CreateSnapshotAsync(string sandboxId, string? name = null,
        IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var envelope = await _transport.SendAsync(HttpMethod.Post, "/v1/snapshots", new CreateGatewaySnapshotRequest(sandboxId, name, metadata),
            Json.CreateGatewaySnapshotRequest, Json.GatewayEnvelopeGatewaySnapshotInfo, cancellationToken, notFoundIsError: true).ConfigureAwait(false);
        return Require(envelope, "POST /v1/snapshots");
    }

    /// <summary>This API key's snapshots (G8).</summary>
    public async Task<IReadOnlyList<GatewaySnapshotInfo>> ListSnapshotsAsync(CancellationToken cancellationToken = default)
    {
        var envelope = await _transport.SendAsync(HttpMethod.Get, "/v1/snapshots", Json.GatewayEnvelopeIReadOnlyListGatewaySnapshotInfo, cancellationToken)
            .ConfigureAwait(false);
        return envelope is { Success: true, Data: { } snapshots } ? snapshots : [];
    }

    /// <summary>Deletes a snapshot (G9): true when the gateway deleted it, false when this API key has no such snapshot.</summary>
    public Task<bool> DeleteSnapshotAsync(string snapshotId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(snapshotId);
        return _transport.SendAsync(HttpMethod.Delete, "/v1/snapshots/" + Uri.EscapeDataString(snapshotId), content: null, cancellationToken);
    }
}
