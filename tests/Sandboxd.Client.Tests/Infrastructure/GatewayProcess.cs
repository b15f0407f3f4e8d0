using System.Diagnostics;
using Sandboxd.Client.Gateway;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// One real <c>sandboxd-gateway start --port 0 --host 127.0.0.1 --api-key … --state-dir &lt;tmp&gt; --agent &lt;sandboxd&gt;</c>
/// (SANDBOXD_GATEWAY_PATH, default tests/.bin/sandboxd-gateway; the agent SANDBOXD_PATH, default tests/.bin/sandboxd),
/// ready once it prints <c>sandboxd-gateway ready URL</c>. Disposal stops it with SIGTERM (bounded), then fails if any
/// process mentioning its state directory (an agent it started) is still running, after killing those.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private const string ReadyPrefix = "sandboxd-gateway ready ";

    private readonly ServiceProcess _process;

    private GatewayProcess(ServiceProcess process, string stateDir)
    {
        _process = process;
        StateDir = stateDir;
        Url = process.Url;
    }

    public string StateDir { get; }
    public Uri Url { get; }
    public int Pid => _process.Pid;

    public string Stderr => _process.Stderr;

    public static string GatewayPath => AgentBinary.GatewayPath;
    public static string AgentPath => AgentBinary.PublishedAgentPath;

    public static async Task<GatewayProcess> StartAsync(IReadOnlyList<string> apiKeys, CancellationToken cancellationToken,
        string port = "0", IReadOnlyList<string>? extraArguments = null)
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-gateway-client-").FullName;
        var info = new ProcessStartInfo(GatewayPath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = stateDir,
        };
        foreach (var argument in new[] { "start", "--port", port, "--host", "127.0.0.1", "--state-dir", stateDir, "--agent", AgentPath }
            .Concat(apiKeys.SelectMany(k => new[] { "--api-key", k })).Concat(extraArguments ?? []))
        {
            info.ArgumentList.Add(argument);
        }

        AgentBinary.RemoveCredentials(info);
        var home = Directory.CreateDirectory(Path.Combine(stateDir, "home")).FullName;
        info.Environment["HOME"] = home; // the agents' shells must not read the runner's dotfiles
        try
        {
            return new GatewayProcess(await ServiceProcess.StartAsync(info, ReadyPrefix, StartTimeout, GatewayPath, cancellationToken), stateDir);
        }
        catch
        {
            await KillLeftoversAsync(stateDir);
            ServiceProcess.TryDelete(stateDir);
            throw;
        }
    }

    /// <summary>kill -9, then waits (bounded) for the exit: a crash, nothing released.</summary>
    public Task KillAsync() => _process.CrashAsync();

    public bool HasExited => _process.HasExited;

    /// <summary>A client with <paramref name="apiKey"/> (the caller disposes it).</summary>
    public GatewayClient Client(string apiKey) => new(Url, apiKey);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.StopAsync(StopTimeout);
        }
        finally
        {
            await _process.DisposeAsync();
        }

        var left = await KillLeftoversAsync(StateDir);
        ServiceProcess.TryDelete(StateDir);
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"Still running after the gateway stopped (killed now): pids {string.Join(", ", left)}.");
        }
    }

    /// <summary>Kills every process whose command line mentions <paramref name="stateDir"/> (agents the gateway started).</summary>
    private static async Task<IReadOnlyList<int>> KillLeftoversAsync(string stateDir)
    {
        var left = HostProcesses.WithCommandLineContaining(stateDir);
        foreach (var pid in left)
        {
            await Posix.SignalAsync(pid, "KILL");
        }

        return left;
    }
}
