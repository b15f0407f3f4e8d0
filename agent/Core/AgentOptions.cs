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
    public bool NoAuth { get; set; }
    public string? PublicUrl { get; set; }
    public string PreviewUrlTemplate { get; set; } = "http://localhost:{port}";
    public int OutputCapBytes { get; set; } = 10 * 1024 * 1024;
    public long MaxBodyBytes { get; set; } = 64L * 1024 * 1024;
    public bool WsBinaryOut { get; set; }
    public string? LogLevel { get; set; }
    public IReadOnlyList<string> OverlayPackageDirs { get; set; } = [];
    public string? SandboxDomain { get; set; }
    public string? SetupFile { get; set; }
    public List<string> AllowedRedirectOrigins { get; } = [];

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
