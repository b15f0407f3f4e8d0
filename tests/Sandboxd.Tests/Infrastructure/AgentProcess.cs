using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>
/// One real agent process: started with <c>sandboxd start --port 0 …</c> on a fresh root and state dir, ready once
/// it prints its single stdout line, stopped with SIGTERM on dispose (which asserts a clean, bounded exit).
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrGate = new();
    private readonly List<string> _stdout = [];
    private readonly bool _ownsStateDir;
    private bool _disposed;
    private string? _home;
    private bool _stopFailureReported;

    private AgentProcess(Process process, string root, string stateDir, bool ownsStateDir, string? token, IReadOnlyList<string> arguments)
    {
        _process = process;
        Root = root;
        StateDir = stateDir;
        _ownsStateDir = ownsStateDir;
        Token = token;
        Arguments = arguments;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderrGate)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
        ReadyLine = "";
        BaseUrl = null!;
        Client = null!;
        Anonymous = null!;
    }

    public int Pid => _process.Id;
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

    public string Stderr
    {
        get
        {
            lock (_stderrGate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Every stdout line after the ready line (the agent should print none).</summary>
    public IReadOnlyList<string> ExtraStdout
    {
        get
        {
            lock (_stdout)
            {
                return [.. _stdout];
            }
        }
    }

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
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = root,
        };
        foreach (var argument in launch.Wrapper.Skip(1).Concat(launch.Wrapper.Count > 0 ? [binary.FileName] : []).Concat(binary.PrefixArguments).Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        // Nothing from the test runner's environment may decide the agent's credentials or state.
        info.Environment.Remove("COMPUTESDK_ACCESS_TOKEN");
        info.Environment.Remove("COMPUTESDK_API_KEY");
        info.Environment.Remove("SANDBOXD_STATE_DIR");
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

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {binary.Description}.");
        var agent = new AgentProcess(process, root, stateDir, ownsState, token, arguments) { _home = home };
        try
        {
            await agent.WaitForReadyAsync(binary, cancellationToken);
        }
        catch
        {
            await agent.KillQuietlyAsync();
            throw;
        }

        return agent;
    }

    private async Task WaitForReadyAsync(AgentBinary binary, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{binary.Description} printed no ready line within {StartTimeout.TotalSeconds} s.\nstderr:\n{Stderr}");
        }

        if (line is null)
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(StopTimeout, cancellationToken);
            throw new InvalidOperationException(
                $"{binary.Description} exited with {_process.ExitCode} before printing its ready line.\nstderr:\n{Stderr}");
        }

        const string prefix = "sandboxd ready ";
        if (!line.StartsWith(prefix, StringComparison.Ordinal) || !Uri.TryCreate(line[prefix.Length..].Trim(), UriKind.Absolute, out var url))
        {
            throw new InvalidOperationException($"Unexpected first stdout line from the agent: '{line}'.\nstderr:\n{Stderr}");
        }

        ReadyLine = line;
        BaseUrl = url;
        Client = new AgentClient(this, Token);
        Anonymous = new AgentClient(this, null);
        _ = PumpStdoutAsync();
    }

    private async Task PumpStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            lock (_stdout)
            {
                _stdout.Add(line);
            }
        }
    }

    /// <summary>Adopts the token the agent resolved by itself (generated or from a file/env), for its clients.</summary>
    public void UseToken(string token)
    {
        Token = token;
        Client.Dispose();
        Client = new AgentClient(this, token);
    }

    /// <summary>The last lines of stderr, for failure messages.</summary>
    public string StderrTail(int lines = 40)
    {
        var all = Stderr.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>SIGTERM, then wait (bounded) for the exit; returns the exit code. Throws when the agent does not stop.</summary>
    public async Task<int> StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_process.HasExited)
        {
            Posix.Kill(_process.Id, Posix.SIGTERM);
            try
            {
                await _process.WaitForExitAsync(cancellationToken).WaitAsync(StopTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                await KillQuietlyAsync();
                _stopFailureReported = true;
                throw new InvalidOperationException(
                    $"The agent (pid {Pid}) did not exit within {StopTimeout.TotalSeconds} s of SIGTERM and was killed.\nstderr:\n{StderrTail()}");
            }
        }

        // Let the stdout pump see EOF so ExtraStdout is complete.
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    private async Task KillQuietlyAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(StopTimeout);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Best effort: the failure that brought us here is the one to report.
        }
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
            _process.Dispose();
            TryDelete(Root);
            if (_home is not null)
            {
                TryDelete(_home);
            }

            if (_ownsStateDir)
            {
                TryDelete(StateDir);
                TryDelete(StateDir + "-sandboxes"); // default roots of child sandboxes, next to the state dir
            }
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
            // Temp dirs; a leftover is harmless and must not hide the real result.
        }
    }
}
