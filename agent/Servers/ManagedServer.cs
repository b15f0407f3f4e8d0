using Sandboxd.Core;
using Sandboxd.Native;
using Sandboxd.Processes;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;

namespace Sandboxd.Servers;

/// <summary>
/// One supervised server: its config, its live state (status, pid, detected port, health, restarts, last exit and the
/// reason it failed) and its logs (stdout, stderr and combined, 1 MiB each, kept across restarts).
/// </summary>
internal sealed partial class ManagedServer(SandboxContext sandbox, ServerConfig config, TimeProvider time)
{
    public const int LogCapBytes = 1024 * 1024;

    private readonly Lock _gate = new();

    public SandboxContext Sandbox { get; } = sandbox;
    public DateTime CreatedAt { get; } = time.GetUtcNow().UtcDateTime;
    public OutputLog Stdout { get; } = new(LogCapBytes);
    public OutputLog Stderr { get; } = new(LogCapBytes);
    public OutputLog Combined { get; } = new(LogCapBytes);

    // All guarded by _gate.
    private ServerConfig _config = config;
    private string _status = ServerStatus.Starting;
    private DateTime _updatedAt = time.GetUtcNow().UtcDateTime;
    private int? _pid;
    private int? _port;
    private string? _address;
    private string? _url;
    private int _restartCount;
    private int? _exitCode;
    private string? _exitReason;
    private ResourceLimits? _limits;
    private bool? _healthy;
    private DateTime? _lastCheck;
    private int? _lastCheckStatus;
    private int _consecutiveFailures;
    private string? _failureReason;
    private int? _allocatedPort;

    public ServerConfig Config { get { lock (_gate) { return _config; } } }
    public string Slug => Config.Slug;
    public string Status { get { lock (_gate) { return _status; } } }
    public int? Port { get { lock (_gate) { return _port; } } }
    public int? Pid { get { lock (_gate) { return _pid; } } }
    public string? Url { get { lock (_gate) { return _url; } } }
    public bool? Healthy { get { lock (_gate) { return _healthy; } } }
    public int RestartCount { get { lock (_gate) { return _restartCount; } } }

    /// <summary>
    /// Serialises start-over, stop, restart and delete of this server. Without it two of them at once could both await
    /// the same run and then each launch or dispose the other's: a run nothing could stop, or two runs of one slug.
    /// </summary>
    public SemaphoreSlim Operations { get; } = new(1, 1);

    /// <summary>Deleted (or its sandbox destroyed): an operation that waited for <see cref="Operations"/> must not launch it again. Guarded by <see cref="Operations"/>.</summary>
    public bool Removed { get; set; }

    /// <summary>The supervision loop of the current run (owned here; awaited by stop).</summary>
    public Task Supervision { get; set; } = Task.CompletedTask;
    public CancellationTokenSource? Cancel { get; set; }
    public ChildProcess? Child { get; set; }

    public void Configure(ServerConfig config)
    {
        lock (_gate)
        {
            _config = config;
        }
    }

    public void SetStatus(string status, string? failureReason = null)
    {
        lock (_gate)
        {
            _status = status;
            _updatedAt = time.GetUtcNow().UtcDateTime;
            if (status == ServerStatus.Failed)
            {
                _failureReason = failureReason;
            }
            else if (status is ServerStatus.Installing or ServerStatus.Starting)
            {
                _failureReason = null;
            }
        }
    }

    /// <summary>Sets the status only if it is still <paramref name="expected"/> (a stop may have won meanwhile).</summary>
    public bool TransitionFrom(string expected, string status)
    {
        lock (_gate)
        {
            if (_status != expected)
            {
                return false;
            }

            _status = status;
            _updatedAt = time.GetUtcNow().UtcDateTime;
            return true;
        }
    }

    public void Spawned(int pid, int allocatedPort, ResourceLimits? limits = null)
    {
        lock (_gate)
        {
            _pid = pid;
            _limits = limits;
            _allocatedPort = allocatedPort;
            _exitCode = null;
            _exitReason = null;
            _port = null;
            _url = null;
            _address = null;
            _healthy = _config.HealthCheck is null ? null : false;
            _consecutiveFailures = 0;
            _lastCheck = null;
            _lastCheckStatus = null;
        }
    }

    /// <param name="reason">Why the run ended (<c>exit</c>, <c>signal</c>, <c>oom</c>, <c>stopped</c>: ExitStatus.Reason).</param>
    public void Exited(int exitCode, string? reason = null)
    {
        lock (_gate)
        {
            _exitCode = exitCode;
            _exitReason = reason;
            _port = null;
            _url = null;
            _address = null;
            _updatedAt = time.GetUtcNow().UtcDateTime;
        }
    }

    public void PortDetected(int port, string address, string url)
    {
        lock (_gate)
        {
            _port = port;
            _address = address;
            _url = url;
            _updatedAt = time.GetUtcNow().UtcDateTime;
        }
    }

    public void IncrementRestarts()
    {
        lock (_gate)
        {
            _restartCount++;
        }

        AgentMeter.ServerRestarts.Add(1);
    }

    public void ResetRestarts()
    {
        lock (_gate)
        {
            _restartCount = 0;
        }
    }

    /// <returns>The number of consecutive failures after this check.</returns>
    public int HealthChecked(int? httpStatus, bool passed)
    {
        lock (_gate)
        {
            _lastCheck = time.GetUtcNow().UtcDateTime;
            _lastCheckStatus = httpStatus;
            _healthy = passed;
            _consecutiveFailures = passed ? 0 : _consecutiveFailures + 1;
            return _consecutiveFailures;
        }
    }

    public ServerInfo ToInfo()
    {
        lock (_gate)
        {
            var c = _config;
            var r = c.Request;
            return new ServerInfo(
                c.Slug, c.Start, c.WorkingDirectory, _status, CreatedAt, _updatedAt,
                Install: c.Install,
                OriginalPath: r.Path,
                EnvFile: r.EnvFile,
                Environment: r.Environment,
                Autostart: c.Autostart,
                StrictPort: c.StrictPort,
                DependsOn: r.DependsOn,
                Port: _port,
                Url: _url,
                Pid: _pid,
                RestartPolicy: c.RestartPolicy,
                MaxRestarts: c.MaxRestarts,
                RestartDelay: (long)(c.RestartDelay.TotalMilliseconds * 1_000_000),
                StopTimeout: (long)(c.StopTimeout.TotalMilliseconds * 1_000_000),
                RestartCount: _restartCount,
                ExitCode: _exitCode,
                HealthCheck: c.HealthCheck,
                Healthy: c.HealthCheck is null ? null : _healthy ?? false,
                HealthStatus: c.HealthCheck is null ? null : new HealthStatus(_consecutiveFailures, _lastCheck, _lastCheckStatus),
                FailureReason: _failureReason,
                RequestedPort: _allocatedPort ?? c.RequestedPort,
                Address: _address,
                Public: c.Public ? true : null,
                MemoryMb: (_limits ?? c.Limits)?.MemoryBytes / (1024 * 1024),
                PidsMax: (_limits ?? c.Limits)?.PidsMax,
                ExitReason: _exitReason);
        }
    }

    public ReadyServer ToReady()
    {
        var info = ToInfo();
        return new ReadyServer(info.Slug, info.Status, info.Port, info.Url, info.Healthy, info.HealthStatus);
    }
}
