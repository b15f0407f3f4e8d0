namespace Sandboxd.Gateway.Store;

/// <summary>
/// The one source of truth for sandbox and snapshot records (SQLite embedded; a server database can implement the same
/// interface for several gateways). Every write is durable when the call returns.
/// </summary>
internal interface ISandboxStore
{
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
}
