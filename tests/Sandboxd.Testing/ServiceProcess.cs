using System.Diagnostics;
using System.Text;

namespace Sandboxd.Testing;

/// <summary>
/// One of our executables running as its own process (an agent or a gateway): started from a start info, ready once its
/// first stdout line starts with the expected prefix (the URL follows), stderr captured, later stdout lines kept, and
/// stopped with SIGTERM and a bounded wait (then SIGKILL of the tree). The suites' agent and gateway launchers wrap it.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrGate = new();
    private readonly List<string> _stdout = [];
    private readonly string _description;

    private ServiceProcess(Process process, string description)
    {
        _process = process;
        _description = description;
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
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>The first stdout line (<c>PREFIX URL</c>).</summary>
    public string ReadyLine { get; private set; } = "";

    /// <summary>The URL of the ready line.</summary>
    public Uri Url { get; private set; } = null!;

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

    /// <summary>Every stdout line after the ready line.</summary>
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

    /// <summary>The last lines of stderr, for failure messages.</summary>
    public string StderrTail(int lines = 40)
    {
        var all = Stderr.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Starts <paramref name="info"/> (stdout and stderr must be redirected) and waits, bounded, for its ready
    /// line. On failure the process is killed and the exception says what it printed.</summary>
    public static async Task<ServiceProcess> StartAsync(ProcessStartInfo info, string readyPrefix, TimeSpan startTimeout, string description,
        CancellationToken cancellationToken)
    {
        info.StandardOutputEncoding ??= Encoding.UTF8;
        info.StandardErrorEncoding ??= Encoding.UTF8;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {description}.");
        var service = new ServiceProcess(process, description);
        try
        {
            await service.WaitForReadyAsync(readyPrefix, startTimeout, cancellationToken);
            return service;
        }
        catch
        {
            await service.KillAsync();
            process.Dispose();
            throw;
        }
    }

    private async Task WaitForReadyAsync(string prefix, TimeSpan startTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(startTimeout);
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{_description} printed no ready line within {startTimeout.TotalSeconds} s.\nstderr:\n{Stderr}");
        }

        if (line is null)
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(15), cancellationToken);
            throw new InvalidOperationException($"{_description} exited with {_process.ExitCode} before printing its ready line.\nstderr:\n{Stderr}");
        }

        if (!line.StartsWith(prefix, StringComparison.Ordinal) || !Uri.TryCreate(line[prefix.Length..].Trim(), UriKind.Absolute, out var url))
        {
            throw new InvalidOperationException($"Unexpected first stdout line from {_description}: '{line}'.\nstderr:\n{Stderr}");
        }

        ReadyLine = line;
        Url = url;
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

    /// <summary>SIGTERM, then a bounded wait; returns the exit code, or null when it did not exit in time (then it was
    /// killed with its whole tree).</summary>
    public async Task<int?> StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!_process.HasExited)
        {
            Posix.Kill(_process.Id, Posix.SIGTERM);
            try
            {
                await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                await KillAsync();
                return null;
            }
        }

        // Let the stdout pump see EOF so ExtraStdout is complete.
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL of this process alone (a crash: its children, e.g. a gateway's agents, stay), waiting (bounded)
    /// for the exit.</summary>
    public async Task CrashAsync()
    {
        Posix.Kill(_process.Id, Posix.SIGKILL);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>SIGKILL of the process and its tree, waiting (bounded) for the exit; best effort.</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Best effort: the failure that brought us here is the one to report.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    /// <summary>Deletes a temp directory; a leftover is harmless and must not hide the real result.</summary>
    public static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // temp dirs
        }
    }
}
