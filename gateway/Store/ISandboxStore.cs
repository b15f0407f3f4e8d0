namespace Sandboxd.Gateway.Store;

/// <summary>
/// The one source of truth for sandbox and snapshot records (SQLite embedded, one gateway; PostgreSQL, several gateways
/// on one database: docs/adr/0010-gateway-postgres.md). Every write is durable when the call returns. A store is made
/// for one gateway process (its instance id): inserts and transitions stamp the record's <c>gateway</c> with it.
/// </summary>
internal interface ISandboxStore
{
    /// <summary>True when other gateway processes may use the same records at the same time (PostgreSQL).</summary>
    bool Shared { get; }

    /// <summary>Runs the versioned schema migrations not yet applied (one gateway at a time), then returns.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Inserts a new record; <c>false</c> if its (owner, namespace, name) is already held by a live sandbox.</summary>
    Task<bool> TryInsertAsync(SandboxRecord record, CancellationToken cancellationToken);

    Task<SandboxRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>The live (creating or ready) sandbox holding this name, if any.</summary>
    Task<SandboxRecord?> FindByNameAsync(string owner, string @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Writes every field of <paramref name="record"/>.</summary>
    Task UpdateAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Moves a record from <paramref name="from"/> to <paramref name="to"/>; <c>false</c> if it was not in <paramref name="from"/>.</summary>
    Task<bool> TryTransitionAsync(string id, SandboxStatus from, SandboxStatus to, CancellationToken cancellationToken);

    /// <summary>Sets the expiry of a ready sandbox; <c>false</c> if it is not ready (any more).</summary>
    Task<bool> TrySetExpiryAsync(string id, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>Every record not yet gone (creating, ready, destroying).</summary>
    Task<IReadOnlyList<SandboxRecord>> ListActiveAsync(CancellationToken cancellationToken);

    Task InsertSnapshotAsync(SnapshotRecord snapshot, CancellationToken cancellationToken);

    Task<SnapshotRecord?> GetSnapshotAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<SnapshotRecord>> ListSnapshotsAsync(string owner, CancellationToken cancellationToken);

    Task<bool> DeleteSnapshotAsync(string id, CancellationToken cancellationToken);

    /// <summary>Says this gateway is alive for <paramref name="ttl"/> more (on the database's clock where it has one).</summary>
    Task HeartbeatAsync(TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>The gateways whose last heartbeat has not run out (this one included once it has beaten).</summary>
    Task<IReadOnlySet<string>> ListLiveGatewaysAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Takes or renews the lease <paramref name="lease"/> for <paramref name="ttl"/>; <c>true</c> if this gateway holds it
    /// now, <c>false</c> while another gateway's lease has not run out.
    /// </summary>
    Task<bool> TryHoldLeaseAsync(string lease, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>At a clean shutdown: drops this gateway's heartbeat and leases, so another takes over at once.</summary>
    Task ReleaseAsync(CancellationToken cancellationToken);
}
