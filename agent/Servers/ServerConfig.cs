using Sandboxd.Native;
using Sandboxd.Protocol;

namespace Sandboxd.Servers;

/// <summary>A validated server definition: the request with defaults applied and units converted.</summary>
internal sealed record ServerConfig(
    StartServerRequest Request,
    string Slug,
    string Start,
    string? Install,
    string WorkingDirectory,
    int? RequestedPort,
    bool StrictPort,
    bool Autostart,
    string RestartPolicy,
    int MaxRestarts,
    TimeSpan RestartDelay,
    TimeSpan StopTimeout,
    HealthCheckConfig? HealthCheck,
    bool Public,
    ResourceLimits? Limits = null)
{
    public static readonly string[] Policies = ["never", "on-failure", "always"];

    private const double MaxMilliseconds = 86_400_000;

    private static string? FirstUnspawnable(StartServerRequest request)
    {
        static bool HasNul(string? value) => value?.Contains('\0', StringComparison.Ordinal) ?? false;
        if (HasNul(request.Start))
        {
            return "start";
        }

        if (HasNul(request.Install))
        {
            return "install";
        }

        if (HasNul(request.Path))
        {
            return "path";
        }

        if (HasNul(request.EnvFile))
        {
            return "env_file";
        }

        return request.Environment?.Any(e => e.Key.Length == 0 || e.Key.Contains('=', StringComparison.Ordinal) || HasNul(e.Key) || HasNul(e.Value)) == true
            ? "environment"
            : null;
    }

    public static ServerConfig? TryCreate(StartServerRequest request, Func<string, string> resolve, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(request.Slug))
        {
            error = "Field 'slug' is required.";
            return null;
        }

        if (request.Slug.Length > 128 || request.Slug.Any(c => char.IsControl(c) || c == '/'))
        {
            error = "Field 'slug' must be at most 128 characters without '/' or control characters.";
            return null;
        }

        if (string.IsNullOrWhiteSpace(request.Start))
        {
            error = "Field 'start' is required (the command that runs the server).";
            return null;
        }

        var policy = request.RestartPolicy ?? "never";
        if (!Policies.Contains(policy))
        {
            error = $"Field 'restart_policy' must be one of never, on-failure, always (got \"{policy}\").";
            return null;
        }

        int? port = null;
        if (request.Port is { } p)
        {
            if (p != Math.Floor(p) || p is < 1 or > 65535)
            {
                error = "Field 'port' must be a TCP port number (1-65535).";
                return null;
            }

            port = (int)p;
        }

        if (request.MaxRestarts is < 0 || request.RestartDelayMs is < 0 || request.StopTimeoutMs is < 0)
        {
            error = "max_restarts, restart_delay_ms and stop_timeout_ms must not be negative.";
            return null;
        }

        // Larger values would overflow TimeSpan (a 500 where the caller sent a bad number); a day is more than enough.
        if (request.MaxRestarts is > int.MaxValue || request.RestartDelayMs is > MaxMilliseconds || request.StopTimeoutMs is > MaxMilliseconds)
        {
            error = $"max_restarts must be at most {int.MaxValue}, restart_delay_ms and stop_timeout_ms at most {MaxMilliseconds} (a day).";
            return null;
        }

        // The process is started later, in the background: what posix_spawn cannot take is refused now, not found then.
        if (FirstUnspawnable(request) is { } field)
        {
            error = $"Field '{field}' must not contain NUL characters (environment names also no '=' and not empty).";
            return null;
        }

        var limits = ResourceLimits.TryCreate(request.MemoryMb, request.PidsMax, CgroupHost.Current, out error);
        if (error is not null)
        {
            return null;
        }

        var cwd = resolve(string.IsNullOrEmpty(request.Path) ? "." : request.Path);
        var health = request.HealthCheck is { } h
            ? new HealthCheckConfig(
                string.IsNullOrEmpty(h.Path) ? "/" : (h.Path.StartsWith('/') ? h.Path : "/" + h.Path),
                h.IntervalMs is > 0 ? h.IntervalMs : 2000,
                h.TimeoutMs is > 0 ? h.TimeoutMs : 1500,
                h.DelayMs is >= 0 ? h.DelayMs : 5000)
            : null;
        return new ServerConfig(
            request,
            request.Slug,
            request.Start,
            string.IsNullOrWhiteSpace(request.Install) ? null : request.Install,
            cwd,
            port,
            request.StrictPort ?? false,
            request.Autostart ?? true,
            policy,
            (int)(request.MaxRestarts ?? 0),
            TimeSpan.FromMilliseconds(request.RestartDelayMs ?? 1000),
            TimeSpan.FromMilliseconds(request.StopTimeoutMs ?? 10000),
            health,
            request.Public ?? false,
            limits);
    }
}
