using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary>The success envelope of most routes: <c>{status:"success", message, data}</c>.</summary>
public sealed record Envelope<T>(T Data, string Message = "ok", string Status = "success");

/// <summary>The error body of every failed request: <c>{status:"error", error}</c>.</summary>
public sealed record ErrorResponse(string Error, string Status = "error");

/// <summary><c>GET /health</c> (top-level).</summary>
public sealed record HealthResponse(string Status, DateTime Timestamp);

/// <summary><c>GET /info</c> data.</summary>
public sealed record InfoData(bool AuthEnabled, string MainSubdomain, int SandboxCount, string SandboxUrl, string Version, IsolationInfo? Isolation = null, LimitsInfo? Limits = null);

/// <summary>
/// <c>GET /info</c> <c>isolation</c> (sandboxd addition): the user commands, terminals and servers run as
/// (<c>run_as</c>, null when they run as the agent's own user) and, when null, the <c>reason</c>.
/// </summary>
/// <summary><c>/info.limits</c> (sandboxd extension): which cgroup version the host has (<c>v1</c>, <c>v2</c>, null for
/// none), whether <c>memory_mb</c> and <c>pids_max</c> can be enforced, and why not when they cannot.</summary>
public sealed record LimitsInfo(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Cgroup,
    bool Memory,
    bool Pids,
    string? Reason = null);

public sealed record IsolationInfo([property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? RunAs, string? Reason = null);

/// <summary>A server as listed by <c>GET /ready</c>.</summary>
public sealed record ReadyServer(string Slug, string Status, int? Port = null, string? Url = null, bool? Healthy = null, HealthStatus? HealthCheck = null);

/// <summary>Health-check state of a server.</summary>
public sealed record HealthStatus(int ConsecutiveFailures, DateTime? LastCheck = null, int? LastStatus = null);

/// <summary>An overlay as listed by <c>GET /ready</c>.</summary>
public sealed record ReadyOverlay(string Id, string Source, string Target, string CopyStatus);

/// <summary><c>GET /ready</c> (top-level).</summary>
public sealed record ReadyResponse(bool Ready, IReadOnlyList<ReadyServer> Servers, IReadOnlyList<ReadyOverlay> Overlays, bool? Healthy = null);

/// <summary><c>GET /auth/status</c> data.</summary>
public sealed record AuthStatusData(bool Authenticated, string? TokenType = null, DateTime? ExpiresAt = null);

/// <summary>The seven endpoint descriptions of <c>GET /auth/info</c>.</summary>
public sealed record AuthEndpoints(
    string CreateSessionToken, string ListSessionTokens, string GetSessionToken, string RevokeSessionToken,
    string CreateMagicLink, string AuthStatus, string AuthInfo);

/// <summary><c>GET /auth/info</c> data.</summary>
public sealed record AuthInfoData(string Message, string Instructions, AuthEndpoints Endpoints);
