using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// One real agent process: <c>sandboxd start --port 0 --access-token &lt;random&gt; --root &lt;tmp&gt; --state-dir &lt;tmp&gt;</c>,
/// ready once it prints <c>sandboxd ready URL</c>, stopped with SIGTERM (bounded) on dispose.
/// </summary>
public sealed class Agent : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private Agent(Process process, AgentBinary binary, string root, string stateDir, string token)
    {
        _process = process;
        Binary = binary;
        Root = root;
        StateDir = stateDir;
        Token = token;
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

    public AgentBinary Binary { get; }
    public int Pid => _process.Id;
    public string Root { get; }
    public string StateDir { get; }
    public string Token { get; }
    public Uri BaseUrl { get; private set; } = null!;

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

    /// <summary>How many WebSockets the agent has logged as closed (needs <c>--log-level Debug</c>).</summary>
    public int ClosedWebSockets => System.Text.RegularExpressions.Regex.Count(Stderr, @"WebSocket \d+ closed");

    /// <summary>Waits until the agent has noticed that one more WebSocket closed than <paramref name="before"/>.</summary>
    public Task WaitForClosedWebSocketAsync(int before, CancellationToken cancellationToken) =>
        Eventually.UntilAsync(() => ClosedWebSockets > before, TimeSpan.FromSeconds(60), "the agent to notice the dropped WebSocket", cancellationToken);

    public static async Task<Agent> StartAsync(IReadOnlyList<string>? extraArguments = null, CancellationToken cancellationToken = default)
    {
        var binary = await AgentBinary.GetAsync();
        var root = Directory.CreateTempSubdirectory("sandboxd-client-root-").FullName;
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-client-state-").FullName;
        var token = "test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var info = binary.StartInfo(["start", "--port", "0", "--access-token", token, "--root", root, "--state-dir", stateDir, .. extraArguments ?? []]);
        info.WorkingDirectory = root;
        // PTY shells (`bash -i`) must not read the runner's dotfiles (a `pyenv init` rc is slow and can leave a lock
        // that hangs the next shell when a test kills it mid-way): HOME is an empty directory of the agent's own.
        var home = Path.Combine(stateDir, "home");
        Directory.CreateDirectory(home);
        info.Environment["HOME"] = home;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {binary.Description}.");
        var agent = new Agent(process, binary, root, stateDir, token);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StartTimeout);
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            const string prefix = "sandboxd ready ";
            if (line is null || !line.StartsWith(prefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{binary.Description} did not print its ready line (got '{line}').\nstderr:\n{agent.Stderr}");
            }

            agent.BaseUrl = new Uri(line[prefix.Length..].Trim());
            return agent;
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client with the access token (the caller disposes it).</summary>
    public SandboxClient Client(SandboxClientOptions? options = null) => new(BaseUrl, Token, options);

    /// <summary>A fresh directory under the sandbox root (tests share one agent; each works in its own directory).</summary>
    public string NewDirectory(string prefix)
    {
        var path = Path.Combine(Root, prefix + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(path);
        return path;
    }

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
            TryDelete(Root);
            TryDelete(StateDir);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // temp dirs; a leftover is harmless
        }
    }
}
