using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Native;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

internal sealed partial class LocalProvider
{
    /// <summary>
    /// SIGTERM → up to 10 s → SIGKILL → up to 5 s, then verifies the recorded process is gone (under bwrap it is PID 1
    /// of its namespace, so the kernel ends everything in it), reaps it if this gateway is its parent, and removes
    /// the sandbox's directory.
    /// </summary>
    public async Task StopAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (record.AgentPid == 0)
        {
            // Caught before its pid was recorded (the gateway died mid-create): find it by its label, its state dir.
            foreach (var pid in ProcessProbe.FindByCommandLine(Path.Combine(record.Dir, "state")))
            {
                LibC.Signal(pid, LibC.SIGKILL);
            }
        }

        if (record.AgentPid > 0 && IsAlive(record))
        {
            LibC.Signal(record.AgentPid, LibC.SIGTERM);
            if (!await WaitGoneAsync(record, StopGrace, cancellationToken))
            {
                logger.AgentKilled(record.Id, record.AgentPid, StopGrace.TotalSeconds);
                LibC.Signal(record.AgentPid, LibC.SIGKILL);
                if (!await WaitGoneAsync(record, KillWait, cancellationToken))
                {
                    throw new GatewayException(GatewayErrorCode.AgentFailed, $"The agent of {record.Id} (pid {record.AgentPid}) survived SIGKILL.");
                }
            }
        }

        if (_children.TryRemove(record.Id, out var process))
        {
            // This gateway started it: reap it (bwrap exits once its namespace's PID 1 has).
            try
            {
                await process.WaitForExitAsync(cancellationToken).WaitAsync(KillWait, time, cancellationToken);
            }
            catch (TimeoutException)
            {
                process.Kill();
                await process.WaitForExitAsync(cancellationToken).WaitAsync(KillWait, time, cancellationToken);
            }

            process.Dispose();
        }

        RemoveDirectory(record);
    }

    private async Task<bool> WaitGoneAsync(SandboxRecord record, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + limit;
        while (IsAlive(record))
        {
            if (time.GetUtcNow() > deadline)
            {
                return false;
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }

        return true;
    }

    private void RemoveDirectory(SandboxRecord record)
    {
        try
        {
            if (Directory.Exists(record.Dir))
            {
                Directory.Delete(record.Dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.CleanupFailed(record.Id, record.Dir, e.Message);
        }
    }
}

internal static partial class ProvidersLog
{
    [LoggerMessage(3000, LogLevel.Information, "Sandbox {SandboxId}: agent pid {Pid} serving {Url} ({Isolation})")]
    public static partial void AgentStarted(this ILogger logger, string sandboxId, int pid, string url, string isolation);

    [LoggerMessage(3001, LogLevel.Warning, "Sandbox {SandboxId}: agent pid {Pid} ignored SIGTERM for {Seconds} s; sent SIGKILL")]
    public static partial void AgentKilled(this ILogger logger, string sandboxId, int pid, double seconds);

    [LoggerMessage(3002, LogLevel.Warning, "Sandbox {SandboxId}: could not remove {Dir}: {Error}")]
    public static partial void CleanupFailed(this ILogger logger, string sandboxId, string dir, string error);

    [LoggerMessage(3003, LogLevel.Warning, "bubblewrap (bwrap) is not installed or --no-isolation was given: SANDBOXES ARE NOT ISOLATED — each agent runs as this user with full access to the host and to the other sandboxes (install Debian's bubblewrap)")]
    public static partial void NotIsolated(this ILogger logger);

    [LoggerMessage(3005, LogLevel.Warning, "Sandbox {SandboxId}: directory {Directory} is honoured only under isolation (bubblewrap); its root is under the state dir instead")]
    public static partial void DirectoryIgnored(this ILogger logger, string sandboxId, string directory);

    [LoggerMessage(3004, LogLevel.Information, "Sandboxes are isolated with {Bwrap} (own mount, PID and IPC namespaces; host read-only)")]
    public static partial void Isolated(this ILogger logger, string bwrap);
}
