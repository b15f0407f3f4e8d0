using System.Text.Json;

namespace Sandboxd.Protocol;

/// <summary><c>POST /sandboxes</c> (the universal CreateSandboxOptions; unknown keys are ignored).</summary>
public sealed record CreateSandboxRequest(
    string? Directory = null,
    IReadOnlyList<CreateOverlayRequest>? Overlays = null,
    IReadOnlyList<StartServerRequest>? Servers = null,
    string? Name = null,
    string? Namespace = null,
    IReadOnlyDictionary<string, string>? Envs = null,
    JsonElement? Metadata = null,
    double? Timeout = null,
    string? TemplateId = null,
    string? Runtime = null);

/// <summary>An overlay as summarised in a sandbox.</summary>
public sealed record SandboxOverlay(string Id, string Source, string Target, string CopyStatus);

/// <summary>A server as summarised in a sandbox.</summary>
public sealed record SandboxServer(string Slug, string Status, int? Port = null, string? Url = null, bool? Healthy = null, HealthCheckConfig? HealthCheck = null);

/// <summary>A sandbox (top-level answer of <c>/sandboxes…</c>).</summary>
public sealed record SandboxInfo(
    string Subdomain,
    string Directory,
    bool IsMain,
    DateTime CreatedAt,
    string Url,
    IReadOnlyList<SandboxOverlay>? Overlays = null,
    IReadOnlyList<SandboxServer>? Servers = null,
    string? Name = null,
    string? Namespace = null,
    JsonElement? Metadata = null);

/// <summary><c>GET /sandboxes</c> (top-level).</summary>
public sealed record SandboxList(IReadOnlyList<SandboxInfo> Sandboxes);

/// <summary>The boot-time setup payload (<c>COMPUTESDK_SETUP_B64</c>, <c>--setup FILE</c>).</summary>
public sealed record SetupPayload(IReadOnlyList<CreateOverlayRequest>? Overlays = null, IReadOnlyList<StartServerRequest>? Servers = null);
