using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary>The gateway's answer wrapper, <c>{success:true, data}</c> (gateway-http §2); <c>data</c> is absent on routes
/// whose answer the client ignores.</summary>
public sealed record GatewayEnvelope<T>(bool Success, T? Data = default);

/// <summary>A failure answer of sandboxd-gateway: <c>{success:false, error}</c>.</summary>
public sealed record GatewayErrorResponse(string? Error = null, bool Success = false);

/// <summary>
/// <c>POST /v1/sandboxes</c> (G1), and the options part of <c>POST /v1/sandboxes/find-or-create</c> (G4): the
/// ComputeSDK <c>CreateSandboxOptions</c>. Every member is optional; null members are not sent.
/// <see cref="Overlays"/> and <see cref="Servers"/> are the daemon's own options and keep its snake_case names.
/// </summary>
public sealed record CreateGatewaySandboxRequest(
    [property: JsonPropertyName("timeout")] long? TimeoutMs = null,
    string? TemplateId = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    IReadOnlyDictionary<string, string>? Envs = null,
    string? Name = null,
    string? Namespace = null,
    string? Directory = null,
    [property: JsonConverter(typeof(OverlayRequestsConverter))] IReadOnlyList<CreateOverlayRequest>? Overlays = null,
    [property: JsonConverter(typeof(ServerRequestsConverter))] IReadOnlyList<StartServerRequest>? Servers = null,
    string? Image = null,
    string? SnapshotId = null);

/// <summary><c>POST /v1/sandboxes/find</c> (G5).</summary>
public sealed record FindGatewaySandboxRequest(string Name, string Namespace);

/// <summary><c>POST /v1/sandboxes/{id}/extend</c> (G6): how much longer the sandbox may live, in ms.</summary>
public sealed record ExtendGatewaySandboxRequest([property: JsonPropertyName("duration")] long DurationMs);

/// <summary>
/// A sandbox as the gateway describes it (the <c>data</c> of G1, G2, G4, G5): the daemon's <see cref="Url"/> and a
/// <see cref="Token"/> for it. G2 carries no <see cref="SandboxId"/>; <see cref="Status"/> is <c>creating</c> while a
/// concurrent findOrCreate is still creating it. <see cref="ExpiresAt"/> (sandboxd-gateway) is when the sandbox is
/// destroyed unless extended; null for no timeout.
/// </summary>
public sealed record GatewaySandboxInfo(
    string Url,
    string? Provider = null,
    string? SandboxId = null,
    string? Token = null,
    JsonElement? Metadata = null,
    string? Name = null,
    string? Namespace = null,
    string? Status = null,
    [property: JsonConverter(typeof(SandboxOverlaysConverter))] IReadOnlyList<SandboxOverlay>? Overlays = null,
    [property: JsonConverter(typeof(SandboxServersConverter))] IReadOnlyList<SandboxServer>? Servers = null,
    DateTimeOffset? ExpiresAt = null);

/// <summary><c>POST /v1/snapshots</c> (G7).</summary>
public sealed record CreateGatewaySnapshotRequest(string SandboxId, string? Name = null, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>A snapshot (the <c>data</c> of G7, items of G8); <see cref="Name"/> and <see cref="SandboxId"/> are sandboxd-gateway's additions.</summary>
public sealed record GatewaySnapshotInfo(
    string Id, string Provider, DateTimeOffset CreatedAt, JsonElement? Metadata = null, string? Name = null, string? SandboxId = null);
