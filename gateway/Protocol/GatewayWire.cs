using System.Text.Json;

namespace Sandboxd.Gateway.Protocol;

// Wire records of the gateway protocol (shared/protocol/gateway-http.md §4), camelCase on the wire. Free-form
// members (metadata, overlays, servers) stay JsonElement: the gateway stores or forwards them without reading them.

/// <summary>Every 2xx answer: <c>{"success":true,"data":…}</c>; the client rejects anything else.</summary>
internal sealed record Envelope<T>(bool Success, T Data);

/// <summary>An answer without a payload (destroy, extend, snapshot delete).</summary>
internal sealed record SuccessResponse(bool Success = true);

/// <summary>Every error: <c>{"success":false,"error":"…"}</c> with a 4xx/5xx status.</summary>
internal sealed record ErrorResponse(string Error, bool Success = false);

/// <summary>G1 <c>POST /v1/sandboxes</c> and G4 <c>POST /v1/sandboxes/find-or-create</c> (same options).</summary>
internal sealed record CreateSandboxRequest(
    long? Timeout = null,
    string? TemplateId = null,
    JsonElement? Metadata = null,
    Dictionary<string, string>? Envs = null,
    string? Name = null,
    string? Namespace = null,
    string? Directory = null,
    JsonElement? Overlays = null,
    JsonElement? Servers = null,
    string? Image = null,
    string? SnapshotId = null,
    long? MemoryMb = null,
    double? Cpus = null,
    long? Pids = null);

/// <summary>G5 <c>POST /v1/sandboxes/find</c>.</summary>
internal sealed record FindSandboxRequest(string? Name = null, string? Namespace = null);

/// <summary>G6 <c>POST /v1/sandboxes/{id}/extend</c>: <c>duration</c> in ms (the client sends 900000 by default).</summary>
internal sealed record ExtendSandboxRequest(long? Duration = null);

/// <summary>
/// G1/G2/G4/G5 payload. <c>status</c> is <c>creating</c> while another call creates the same name, <c>unavailable</c>
/// while the Docker engine holding it is down; <c>engine</c> names that engine (docker provider only).
/// </summary>
internal sealed record SandboxInfo(
    string SandboxId,
    string Url,
    string? Token,
    string Provider,
    JsonElement? Metadata = null,
    string? Name = null,
    string? Namespace = null,
    string? Status = null,
    string? ExpiresAt = null,
    string? Engine = null);

/// <summary>G7 <c>POST /v1/snapshots</c>.</summary>
internal sealed record CreateSnapshotRequest(string? SandboxId = null, string? Name = null, JsonElement? Metadata = null);

/// <summary>G7/G8 payload.</summary>
internal sealed record SnapshotInfo(string Id, string Provider, string CreatedAt, JsonElement? Metadata = null, string? Name = null, string? SandboxId = null);

/// <summary>The agent's boot setup (<c>sandboxd start --setup FILE</c>): overlays and servers, forwarded verbatim.</summary>
internal sealed record AgentSetup(JsonElement? Overlays = null, JsonElement? Servers = null);
