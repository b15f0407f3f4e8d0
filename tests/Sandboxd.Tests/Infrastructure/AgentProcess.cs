using System.Diagnostics;
using System.Security.Cryptography;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>
/// One real agent process: started with <c>sandboxd start --port 0 …</c> on a fresh root and state dir, ready once
/// it prints its single stdout line, stopped with SIGTERM on dispose (which asserts a clean, bounded exit).
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly ServiceProcess _process;
    private readonly bool _ownsStateDir;
    private bool _disposed;
    private string? _home;
    private bool _stopFailureReported;

    private AgentProcess(ServiceProcess process, string root, string stateDir, bool ownsStateDir, string? token, IReadOnlyList<string> arguments)
    {
        _process = process;
        Root = root;
        StateDir = stateDir;
        _ownsStateDir = ownsStateDir;
        Token = token;
        Arguments = arguments;
        ReadyLine = process.ReadyLine;
        BaseUrl = process.Url;
        Client = new AgentClient(this, token);
        Anonymous = new AgentClient(this, null);
    }

    public int Pid => _process.Pid;
    public string Root { get; }
    public string StateDir { get; }
    /// <summary>The token given on the command line, or null when the agent was left to resolve its own.</summary>
    public string? Token { get; private set; }
    public IReadOnlyList<string> Arguments { get; }
    public string ReadyLine { get; private set; }
    public Uri BaseUrl { get; private set; }
    /// <summary>Sends the access token as a Bearer header (when there is one).</summary>
    public AgentClient Client { get; private set; }
    /// <summary>Sends no credentials at all.</summary>
    public AgentClient Anonymous { get; private set; }

    public string Stderr => _process.Stderr;

    /// <summary>Every stdout line after the ready line (the agent should print none).</summary>
    public IReadOnlyList<string> ExtraStdout => _process.ExtraStdout;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static async Task<AgentProcess> StartAsync(AgentLaunch launch, CancellationToken cancellationToken)
    {
        var binary = await AgentBinary.GetAsync();
        var root = Directory.CreateTempSubdirectory("sandboxd-root-").FullName;
        var ownsState = launch.StateDir is null;
        var stateDir = launch.StateDir ?? Directory.CreateTempSubdirectory("sandboxd-state-").FullName;
        var token = launch.PassAccessToken ? "test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) : null;

        var arguments = new List<string> { "start", "--port", "0", "--root", root, "--state-dir", stateDir };
        if (token is not null)
        {
            arguments.AddRange(["--access-token", token]);
        }

        arguments.AddRange(launch.ExtraArguments);

        var info = new ProcessStartInfo(launch.Wrapper.Count > 0 ? launch.Wrapper[0] : binary.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        foreach (var argument in launch.Wrapper.Skip(1).Concat(launch.Wrapper.Count > 0 ? [binary.FileName] : []).Concat(binary.PrefixArguments).Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        // Nothing from the test runner's environment may decide the agent's credentials or state.
        AgentBinary.RemoveCredentials(info);
        // Shells the agent starts (PTYs run `bash -i`) must not read the runner's dotfiles: a login rc that runs
        // `pyenv init` takes seconds and, when a test kills it mid-way, leaves a lock that hangs the next shell 60 s.
        var home = Directory.CreateTempSubdirectory("sandboxd-home-").FullName;
        info.Environment["HOME"] = home;
        foreach (var (name, value) in launch.Environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        ServiceProcess process;
        try
        {
            process = await ServiceProcess.StartAsync(info, "sandboxd ready ", StartTimeout, binary.Description, cancellationToken);
        }
        catch
        {
            ServiceProcess.TryDelete(root);
            ServiceProcess.TryDelete(home);
            if (ownsState)
            {
                ServiceProcess.TryDelete(stateDir);
            }

            throw;
        }

        return new AgentProcess(process, root, stateDir, ownsState, token, arguments) { _home = home };
    }

    /// <summary>Adopts the token the agent resolved by itself (generated or from a file/env), for its clients.</summary>
    public void UseToken(string token)
    {
        Token = token;
        Client.Dispose();
        Client = new AgentClient(this, token);
    }

    /// <summary>The last lines of stderr, for failure messages.</summary>
    public string StderrTail(int lines = 40) => _process.StderrTail(lines);

    /// <summary>SIGTERM, then wait (bounded) for the exit; returns the exit code. Throws when the agent does not stop.</summary>
    public async Task<int> StopAsync(CancellationToken cancellationToken = default)
    {
        if (await _process.StopAsync(StopTimeout, cancellationToken) is { } exitCode)
        {
            return exitCode;
        }

        _stopFailureReported = true;
        throw new InvalidOperationException(
            $"The agent (pid {Pid}) did not exit within {StopTimeout.TotalSeconds} s of SIGTERM and was killed.\nstderr:\n{StderrTail()}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            Client?.Dispose();
            Anonymous?.Dispose();
            var exitCode = await StopAsync();
            // A stop that already failed the test (and killed the agent) must not be hidden behind a second error.
            if (exitCode != 0 && !_stopFailureReported)
            {
                throw new InvalidOperationException($"The agent exited with {exitCode} after SIGTERM (expected 0).\nstderr:\n{StderrTail()}");
            }
        }
        finally
        {
            await _process.DisposeAsync();
            ServiceProcess.TryDelete(Root);
            if (_home is not null)
            {
                ServiceProcess.TryDelete(_home);
            }

            if (_ownsStateDir)
            {
                ServiceProcess.TryDelete(StateDir);
                ServiceProcess.TryDelete(StateDir + "-sandboxes"); // default roots of child sandboxes, next to the state dir
            }
        }
    }
}
