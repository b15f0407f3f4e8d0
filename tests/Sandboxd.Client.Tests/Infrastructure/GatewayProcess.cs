using System.Diagnostics;
using System.Text;
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

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private GatewayProcess(Process process, string stateDir)
    {
        _process = process;
        StateDir = stateDir;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
    }

    public string StateDir { get; }
    public Uri Url { get; private set; } = null!;
    public int Pid => _process.Id;

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static string GatewayPath => Published("SANDBOXD_GATEWAY_PATH", "sandboxd-gateway");
    public static string AgentPath => Published("SANDBOXD_PATH", "sandboxd");

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

        foreach (var name in new[] { "SANDBOXD_URL", "SANDBOXD_TOKEN", "COMPUTESDK_ACCESS_TOKEN", "COMPUTESDK_API_KEY" })
        {
            info.Environment.Remove(name);
        }

        var home = Directory.CreateDirectory(Path.Combine(stateDir, "home")).FullName;
        info.Environment["HOME"] = home; // the agents' shells must not read the runner's dotfiles
        var gateway = new GatewayProcess(Process.Start(info) ?? throw new InvalidOperationException($"Could not start {GatewayPath}."), stateDir);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StartTimeout);
            var line = await gateway._process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null || !line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{GatewayPath} did not print its ready line (got '{line}').\nstderr:\n{gateway.Stderr}");
            }

            gateway.Url = new Uri(line[ReadyPrefix.Length..].Trim());
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9, then waits (bounded) for the exit: a crash, nothing released.</summary>
    public async Task KillAsync()
    {
        await Posix.SignalAsync(_process.Id, "KILL");
        await _process.WaitForExitAsync().WaitAsync(StopTimeout);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>A client with <paramref name="apiKey"/> (the caller disposes it).</summary>
    public GatewayClient Client(string apiKey) => new(Url, apiKey);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await Posix.SignalAsync(_process.Id, "TERM");
                await _process.WaitForExitAsync().WaitAsync(StopTimeout);
            }
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }

        var left = HostProcesses.WithCommandLineContaining(StateDir);
        foreach (var pid in left)
        {
            await Posix.SignalAsync(pid, "KILL");
        }

        TryDelete(StateDir);
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"Still running after the gateway stopped (killed now): pids {string.Join(", ", left)}.");
        }
    }

    private static string Published(string variable, string name)
    {
        var path = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set
            ? Path.GetFullPath(set)
            : Path.Combine(AgentBinary.RepoRoot, "tests", ".bin", name);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{path} does not exist: publish {name} (tests/run.sh does) or set {variable}.");
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a temp dir; a leftover is harmless
        }
    }
}
