using System.Text.Json.Serialization;

namespace Sandboxd.Gateway.Docker;

// The few Docker Engine API shapes the gateway uses (API 1.41, dockerd 20.10; newer engines answer the same shapes).
// Property names are the engine's (PascalCase); reading is case-insensitive.

/// <summary>An empty JSON object (<c>ExposedPorts</c> values).</summary>
internal sealed record EmptyObject;

internal sealed record PortBinding(string? HostIp = null, string? HostPort = null);

internal sealed record HostConfig(
    long? Memory = null,
    long? MemorySwap = null,
    long? NanoCpus = null,
    long? PidsLimit = null,
    string? NetworkMode = null,
    Dictionary<string, List<PortBinding>?>? PortBindings = null,
    List<string>? SecurityOpt = null,
    RestartPolicy? RestartPolicy = null);

internal sealed record RestartPolicy(string Name);

/// <summary><c>POST /containers/create</c>.</summary>
internal sealed record ContainerCreateRequest(
    string Image,
    List<string> Entrypoint,
    List<string> Cmd,
    List<string> Env,
    Dictionary<string, string> Labels,
    HostConfig HostConfig,
    Dictionary<string, EmptyObject>? ExposedPorts = null);

internal sealed record ContainerCreateResponse(string Id, List<string>? Warnings = null);

internal sealed record ContainerState(
    string? Status = null, bool Running = false, bool Restarting = false, bool OOMKilled = false, int ExitCode = 0, DateTimeOffset? FinishedAt = null);

internal sealed record ContainerConfig(Dictionary<string, string>? Labels = null, List<string>? Env = null, List<string>? Cmd = null, string? User = null);

internal sealed record NetworkSettings(Dictionary<string, List<PortBinding>?>? Ports = null);

/// <summary><c>GET /containers/{id}/json</c> (the parts the gateway reads).</summary>
internal sealed record ContainerInspect(
    string Id,
    string? Name = null,
    string? Created = null,
    ContainerState? State = null,
    ContainerConfig? Config = null,
    HostConfig? HostConfig = null,
    NetworkSettings? NetworkSettings = null);

/// <summary>One item of <c>GET /containers/json</c>.</summary>
internal sealed record ContainerSummary(string Id, long Created = 0, string? State = null, Dictionary<string, string>? Labels = null);

internal sealed record IdResponse(string Id);

internal sealed record VersionResponse(string? Version = null, string? ApiVersion = null);

internal sealed record NetworkInspect(string? Name = null, string? Driver = null);

/// <summary>An engine's error answer: <c>{"message": …}</c>.</summary>
internal sealed record EngineError(string? Message = null);

/// <summary>One line of the JSON stream <c>POST /images/create</c> answers.</summary>
internal sealed record PullProgress(string? Status = null, string? Error = null);

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(ContainerInspect))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(NetworkInspect))]
[JsonSerializable(typeof(EngineError))]
[JsonSerializable(typeof(PullProgress))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
internal sealed partial class DockerJsonContext : JsonSerializerContext;
