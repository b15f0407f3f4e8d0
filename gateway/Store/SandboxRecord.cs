namespace Sandboxd.Gateway.Store;

/// <summary>Where a sandbox is in its life. Only <see cref="Creating"/> and <see cref="Ready"/> hold a name.</summary>
internal enum SandboxStatus { Creating, Ready, Destroying, Gone }

/// <summary>One sandbox as the store knows it. The agent fields are empty until the provider has started it.</summary>
/// <param name="Owner">SHA-256 (hex) of the API key that created it.</param>
/// <param name="AgentPid">The agent process to signal (outside any PID namespace), 0 before it runs.</param>
/// <param name="AgentStartTicks">Field 22 of <c>/proc/&lt;pid&gt;/stat</c>: tells a recycled pid from the agent.</param>
/// <param name="Dir">The sandbox's own directory under the state dir (root, agent state, token, setup, log); for the
/// docker provider, its container's name.</param>
/// <param name="Engine">The Docker engine (its <c>--docker-host</c> name) holding the sandbox; null for the local provider.</param>
/// <param name="Root">The sandbox root as its agent sees it (the create option <c>directory</c> under isolation).</param>
/// <param name="Gateway">The gateway process that last moved it to creating or destroying (the store stamps it): while
/// that gateway lives the record is its to finish; once it is gone another gateway repairs the record.</param>
internal sealed record SandboxRecord(
    string Id,
    string Owner,
    string? Namespace,
    string? Name,
    SandboxStatus Status,
    string Provider,
    string Dir,
    string Root,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt = null,
    string? MetadataJson = null,
    string? Url = null,
    string? Token = null,
    int AgentPid = 0,
    long AgentStartTicks = 0,
    string? GoneReason = null,
    string? Gateway = null,
    string? Engine = null);

/// <summary>One snapshot: a gzip'd tar of a sandbox root, owned by the key that took it.</summary>
internal sealed record SnapshotRecord(
    string Id,
    string Owner,
    string SandboxId,
    string? Name,
    string? MetadataJson,
    string ArchivePath,
    DateTimeOffset CreatedAt);
