using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

/// <summary>What a new sandbox asks of its provider (the create options the gateway honours).</summary>
/// <param name="SetupJson">The agent's boot setup (<c>{overlays, servers}</c>), or null.</param>
/// <param name="Snapshot">Where a snapshot to start from is (as <see cref="IProvider.SnapshotAsync"/> returned it), or null.</param>
/// <param name="Limits">Memory/CPU/pids limits asked for at create (providers that cannot enforce them ignore them).</param>
internal sealed record SandboxSpec(
    IReadOnlyDictionary<string, string>? Envs,
    string? Directory,
    string? SetupJson,
    string? Snapshot,
    SandboxLimits? Limits = null);

/// <summary>Resource limits of one sandbox; null members fall back to the gateway's defaults.</summary>
internal sealed record SandboxLimits(long? MemoryMb = null, double? Cpus = null, long? Pids = null);

/// <summary>Where a new sandbox will live: its directory (or container name), its root, and its engine (docker).</summary>
internal sealed record SandboxPlacement(string Dir, string Root, string? Engine = null);

/// <summary>A running agent: its URL and token, and the process to signal (0 when the engine owns it).</summary>
internal sealed record AgentStarted(string Url, string Token, int Pid, long StartTicks, string Root);

/// <summary>
/// Where sandboxes run (<c>local</c>, <c>docker</c>; <c>kubernetes</c> later). A provider holds no state the store
/// does not also hold: every call takes the record.
/// </summary>
internal interface IProvider
{
    /// <summary>The name clients see as <c>provider</c>.</summary>
    string Name { get; }

    /// <summary>Where a new sandbox goes; <paramref name="active"/> are the live records (placement counts them).</summary>
    SandboxPlacement Place(string sandboxId, SandboxSpec spec, IReadOnlyList<SandboxRecord> active);

    Task<AgentStarted> StartAsync(SandboxRecord record, SandboxSpec spec, CancellationToken cancellationToken);

    /// <summary>Stops the agent, verifies it is gone and removes what the sandbox held (files, container, volume).</summary>
    Task StopAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary><c>false</c> only when the agent is known to be gone; <c>true</c> when it runs or cannot be asked now.</summary>
    Task<bool> IsAliveAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Where a live agent answers now (it may have moved when its engine restarted it); null if unknown or unchanged.</summary>
    Task<string?> CurrentUrlAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary><c>false</c> while whatever holds the sandbox (its engine) is down: it is unavailable, not gone.</summary>
    bool IsReachable(SandboxRecord record);

    /// <summary>Alive and answering <c>/health</c>.</summary>
    Task<bool> ProbeAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Snapshots the sandbox; returns where the snapshot is (stored as the snapshot record's location).</summary>
    Task<string> SnapshotAsync(SandboxRecord record, string snapshotId, CancellationToken cancellationToken);

    /// <summary>Whether a snapshot location can still be started from.</summary>
    bool HasSnapshot(string location);

    Task DeleteSnapshotAsync(string location, CancellationToken cancellationToken);

    /// <summary>Periodic: removes what this gateway started that no live record claims (after a grace period).</summary>
    Task RemoveOrphansAsync(Func<CancellationToken, Task<IReadOnlyList<SandboxRecord>>> active, CancellationToken cancellationToken);
}
