namespace Sandboxd.Core;

/// <summary>Everything the command line (and its environment variables) configures.</summary>
internal sealed class AgentOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 18080;
    public string Root { get; set; } = Directory.GetCurrentDirectory();
    public string? AccessToken { get; set; }
    public string? AccessTokenFile { get; set; }
    public string? ApiKey { get; set; }
    public string StateDir { get; set; } = DefaultStateDir();

    /// <summary>Where child sandboxes created without a directory get their roots; never inside the state directory.</summary>
    public string? SandboxesDir { get; set; }

    /// <summary><see cref="SandboxesDir"/>, or by default <c>&lt;state-dir&gt;-sandboxes</c> next to the state directory.</summary>
    public string ChildSandboxesDir => SandboxesDir ?? Path.TrimEndingDirectorySeparator(StateDir) + "-sandboxes";
    public bool NoAuth { get; set; }

    /// <summary>The user commands, terminals and servers run as when the agent is root (<c>--run-as</c>, env <c>SANDBOXD_RUN_AS</c>).</summary>
    public string? RunAs { get; set; } = Environment.GetEnvironmentVariable("SANDBOXD_RUN_AS") is { Length: > 0 } runAs ? runAs : null;
    public string? PublicUrl { get; set; }
    public string PreviewUrlTemplate { get; set; } = "http://localhost:{port}";
    public int OutputCapBytes { get; set; } = 10 * 1024 * 1024;
    public long MaxBodyBytes { get; set; } = 64L * 1024 * 1024;
    /// <summary>Streamed writes (PUT /files, archives) leave at least this many bytes free on the disk, else 507.</summary>
    public long MinFreeDiskBytes { get; set; } = 16L * 1024 * 1024;
    /// <summary>Default memory limit (MiB) of servers that set none (<c>--server-memory-mb</c>).</summary>
    public long? ServerMemoryMb { get; set; }
    /// <summary>Default pid limit of servers that set none (<c>--server-pids-max</c>).</summary>
    public int? ServerPidsMax { get; set; }
    /// <summary>GET /metrics without a token.</summary>
    public bool MetricsPublic { get; set; }
    public bool WsBinaryOut { get; set; }
    public string? LogLevel { get; set; }
    public IReadOnlyList<string> OverlayPackageDirs { get; set; } = [];
    public string? SandboxDomain { get; set; }
    public string? SetupFile { get; set; }
    public List<string> AllowedRedirectOrigins { get; } = [];
    /// <summary>Connections that have not carried a valid credential yet, at most this many at once.</summary>
    public int MaxUnauthenticatedConnections { get; set; } = 256;
    /// <summary>An unauthenticated connection with no request in flight is closed after this long.</summary>
    public TimeSpan UnauthenticatedIdle { get; set; } = TimeSpan.FromSeconds(10);

    public static string DefaultStateDir()
    {
        if (Environment.GetEnvironmentVariable("SANDBOXD_STATE_DIR") is { Length: > 0 } fromEnv)
        {
            return fromEnv;
        }

        if (Native.LibC.GetEuid() == 0)
        {
            return "/var/lib/sandboxd";
        }

        var stateHome = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(stateHome))
        {
            stateHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        }

        return Path.Combine(stateHome, "sandboxd");
    }
}
