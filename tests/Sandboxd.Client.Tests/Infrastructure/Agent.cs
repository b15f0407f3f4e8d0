using System.Security.Cryptography;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// One real agent process: <c>sandboxd start --port 0 --access-token &lt;random&gt; --root &lt;tmp&gt; --state-dir &lt;tmp&gt;</c>,
/// ready once it prints <c>sandboxd ready URL</c>, stopped with SIGTERM (bounded) on dispose.
/// </summary>
public sealed class Agent : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private readonly ServiceProcess _process;

    private Agent(ServiceProcess process, AgentBinary binary, string root, string stateDir, string token)
    {
        _process = process;
        Binary = binary;
        Root = root;
        StateDir = stateDir;
        Token = token;
        BaseUrl = process.Url;
    }

    public AgentBinary Binary { get; }
    public int Pid => _process.Pid;
    public string Root { get; }
    public string StateDir { get; }
    public string Token { get; }
    public Uri BaseUrl { get; }

    public string Stderr => _process.Stderr;

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
        try
        {
            var process = await ServiceProcess.StartAsync(info, "sandboxd ready ", StartTimeout, binary.Description, cancellationToken);
            return new Agent(process, binary, root, stateDir, token);
        }
        catch
        {
            ServiceProcess.TryDelete(root);
            ServiceProcess.TryDelete(stateDir);
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
            await _process.StopAsync(StopTimeout);
        }
        finally
        {
            await _process.DisposeAsync();
            ServiceProcess.TryDelete(Root);
            ServiceProcess.TryDelete(StateDir);
        }
    }
}
