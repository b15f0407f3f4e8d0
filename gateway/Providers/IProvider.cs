using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

/// <summary>What a new sandbox asks of its provider (the create options the gateway honours).</summary>
/// <param name="SetupJson">The agent's boot setup (<c>{overlays, servers}</c>), or null.</param>
/// <param name="SnapshotArchive">A snapshot archive to extract into the root before the agent starts.</param>
internal sealed record SandboxSpec(
    IReadOnlyDictionary<string, string>? Envs,
    string? Directory,
    string? SetupJson,
    string? SnapshotArchive);

/// <summary>A running agent: its URL and token, and the process to signal.</summary>
internal sealed record AgentStarted(string Url, string Token, int Pid, long StartTicks, string Root);

/// <summary>
/// Where sandboxes run (<c>local</c> today; <c>docker</c>, <c>kubernetes</c> later). A provider holds no state the store
/// does not also hold: every call takes the record.
/// </summary>
internal interface IProvider
{
    /// <summary>The name clients see as <c>provider</c>.</summary>
    string Name { get; }

    /// <summary>The directory layout of a new sandbox: (dir, root as the agent will see it).</summary>
    (string Dir, string Root) Plan(string sandboxId, SandboxSpec spec);

    Task<AgentStarted> StartAsync(SandboxRecord record, SandboxSpec spec, CancellationToken cancellationToken);

    /// <summary>Stops the agent (TERM → bounded wait → KILL), verifies it is gone and removes the sandbox's files.</summary>
    Task StopAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Cheap check: is the recorded agent process still the same, live process?</summary>
    bool IsAlive(SandboxRecord record);

    /// <summary>Alive and answering <c>/health</c>.</summary>
    Task<bool> ProbeAsync(SandboxRecord record, CancellationToken cancellationToken);

    /// <summary>Writes a compressed archive of the sandbox root to <paramref name="archivePath"/>.</summary>
    Task SnapshotAsync(SandboxRecord record, string archivePath, CancellationToken cancellationToken);
}
