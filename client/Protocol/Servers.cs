namespace Sandboxd.Protocol;

/// <summary>Health-check settings of a server (ms units; defaults path "/", 2000, 1500, 5000).</summary>
public sealed record HealthCheckConfig(string? Path = null, long? IntervalMs = null, long? TimeoutMs = null, long? DelayMs = null);

/// <summary>An overlay to create (<c>POST /filesystem/overlays</c>, also inside server and sandbox options).</summary>
public sealed record CreateOverlayRequest(string? Source, string? Target, IReadOnlyList<string>? Ignore = null, string? Strategy = null);

/// <summary><c>POST /servers</c>. <see cref="Public"/> (sandboxd) lets the preview proxy serve it without a token.</summary>
public sealed record StartServerRequest(
    string? Slug,
    string? Start,
    string? Install = null,
    string? Path = null,
    string? EnvFile = null,
    IReadOnlyDictionary<string, string>? Environment = null,
    double? Port = null,
    bool? StrictPort = null,
    bool? Autostart = null,
    CreateOverlayRequest? Overlay = null,
    IReadOnlyList<CreateOverlayRequest>? Overlays = null,
    IReadOnlyList<string>? DependsOn = null,
    string? RestartPolicy = null,
    double? MaxRestarts = null,
    double? RestartDelayMs = null,
    double? StopTimeoutMs = null,
    HealthCheckConfig? HealthCheck = null,
    bool? Public = null,
    double? MemoryMb = null,
    double? PidsMax = null);

/// <summary>A managed server. <see cref="RestartDelay"/> and <see cref="StopTimeout"/> are nanoseconds (spec §12.2).</summary>
public sealed record ServerInfo(
    string Slug,
    string Start,
    string Path,
    string Status,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    string? Install = null,
    string? OriginalPath = null,
    string? EnvFile = null,
    IReadOnlyDictionary<string, string>? Environment = null,
    bool? Autostart = null,
    bool? StrictPort = null,
    IReadOnlyList<string>? DependsOn = null,
    int? Port = null,
    string? Url = null,
    int? Pid = null,
    string? RestartPolicy = null,
    int? MaxRestarts = null,
    long? RestartDelay = null,
    long? StopTimeout = null,
    int? RestartCount = null,
    int? ExitCode = null,
    HealthCheckConfig? HealthCheck = null,
    bool? Healthy = null,
    HealthStatus? HealthStatus = null,
    string? FailureReason = null,
    int? RequestedPort = null,
    string? Address = null,
    bool? Public = null,
    long? MemoryMb = null,
    int? PidsMax = null,
    string? ExitReason = null);

/// <summary><c>data:{server}</c>.</summary>
public sealed record ServerData(ServerInfo Server);

/// <summary><c>GET /servers</c> data.</summary>
public sealed record ServerList(IReadOnlyList<ServerInfo> Servers);

/// <summary><c>POST /servers/{slug}/stop</c> data.</summary>
public sealed record ServerSlugData(string Slug);

/// <summary><c>GET /servers/{slug}/logs</c> data.</summary>
public sealed record ServerLogsData(string Slug, string Stream, string Logs);

/// <summary><c>PATCH /servers/{slug}/status</c> body and data.</summary>
public sealed record ServerStatusData(string? Status, string? Slug = null);
