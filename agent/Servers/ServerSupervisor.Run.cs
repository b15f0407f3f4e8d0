using Sandboxd.FileSystem;
using Sandboxd.Native;
using Sandboxd.Processes;

namespace Sandboxd.Servers;

internal sealed partial class ServerSupervisor
{
    /// <summary>A run that lasted this long resets the crash backoff (supervisord's startsecs, pm2's min_uptime).</summary>
    public static readonly TimeSpan MinUptime = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    /// <summary>Consecutive failed health checks after which a ready server counts as unhealthy (and is restarted per policy).</summary>
    public const int UnhealthyThreshold = 3;
    /// <summary>How many times a start that lost its preallocated port to another process is retried on another port.</summary>
    public const int MaxPortCollisions = 5;

    private async Task SuperviseAsync(ManagedServer server, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var config = server.Config;
        try
        {
            if (await PrepareOverlaysAsync(server, cancellationToken).ConfigureAwait(false) is { } overlayProblem)
            {
                Fail(server, overlayProblem);
                return;
            }

            if (config.Install is { } install)
            {
                var code = await RunInstallAsync(server, install, cancellationToken).ConfigureAwait(false);
                if (code != 0)
                {
                    Fail(server, $"install failed with exit code {code}");
                    return;
                }
            }

            var consecutiveCrashes = 0;
            var collisions = 0;
            while (true)
            {
                server.SetStatus(ServerStatus.Starting);
                var outcome = await RunOnceAsync(server, cancellationToken).ConfigureAwait(false);
                if (outcome.FailedToStart is { } reason)
                {
                    Fail(server, reason);
                    return;
                }

                var exit = outcome.Exit;
                var crashed = exit.ExitCode != 0 || outcome.Unhealthy;
                if (crashed && !config.StrictPort && LostItsPort(outcome) is { } lost)
                {
                    // The port was free when it was preallocated and another process took it before the server could
                    // listen (two starts racing for one port, here or in another agent on the host). The agent's choice
                    // of port failed, not the server: it gets another port now, whatever its restart policy, and no
                    // restart is counted. (A strict port is the user's choice: the restart policy decides.)
                    if (++collisions > MaxPortCollisions)
                    {
                        Fail(server, $"port in use: {lost} was taken by another process before the server could listen ({ExitReason(exit, outcome.OomKilled)}); {MaxPortCollisions} other ports were tried");
                        return;
                    }

                    server.Stderr.Append(System.Text.Encoding.UTF8.GetBytes($"sandboxd: port {lost} was taken by another process before the server listened; starting again on another port\n"));
                    _log.PortCollision(config.Slug, lost);
                    continue;
                }

                var restart = config.RestartPolicy == "always" || (config.RestartPolicy == "on-failure" && crashed);
                if (!restart)
                {
                    if (crashed)
                    {
                        Fail(server, outcome.Unhealthy ? outcome.Reason : ExitReason(exit, outcome.OomKilled));
                    }
                    else
                    {
                        server.SetStatus(ServerStatus.Stopped);
                        _log.StatusChanged(config.Slug, ServerStatus.Stopped);
                    }

                    return;
                }

                if (config.MaxRestarts > 0 && server.RestartCount >= config.MaxRestarts)
                {
                    Fail(server, $"crash loop: gave up after {server.RestartCount} restart(s) (max_restarts {config.MaxRestarts}); last: {(outcome.Unhealthy ? outcome.Reason : ExitReason(exit, outcome.OomKilled))}");
                    return;
                }

                consecutiveCrashes = outcome.Uptime >= MinUptime ? 1 : consecutiveCrashes + 1;
                var delay = Backoff(config.RestartDelay, consecutiveCrashes);
                server.SetStatus(ServerStatus.Restarting);
                _log.Restarting(config.Slug, exit.ExitCode, (long)delay.TotalMilliseconds, server.RestartCount + 1);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                server.IncrementRestarts();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stop requested: the caller sets the final status
        }
    }

    /// <summary>Creates the server's own overlays, then waits for them and for <c>depends_on</c> overlays to finish copying.</summary>
    private async Task<string?> PrepareOverlaysAsync(ManagedServer server, CancellationToken cancellationToken)
    {
        var request = server.Config.Request;
        var waitFor = new List<string>();
        foreach (var spec in (request.Overlay is null ? [] : new[] { request.Overlay }).Concat(request.Overlays ?? []))
        {
            var (id, error) = await overlays.CreateAsync(server.Sandbox, spec, cancellationToken).ConfigureAwait(false);
            if (id is null)
            {
                return $"overlay {spec.Source} → {spec.Target} could not be created: {error}";
            }

            waitFor.Add(id);
        }

        foreach (var id in request.DependsOn ?? [])
        {
            if (!overlays.Exists(server.Sandbox, id))
            {
                return $"depends_on: overlay {id} does not exist in this sandbox";
            }

            waitFor.Add(id);
        }

        foreach (var id in waitFor)
        {
            if (await overlays.WaitAsync(server.Sandbox, id, cancellationToken).ConfigureAwait(false) is { } failure)
            {
                return $"overlay {id} failed: {failure}";
            }
        }

        return null;
    }

    /// <summary>The first restart waits exactly the configured delay; repeated quick crashes double it (with ±10 % jitter) up to 30 s.</summary>
    internal static TimeSpan Backoff(TimeSpan delay, int consecutiveCrashes)
    {
        if (consecutiveCrashes <= 1)
        {
            return delay;
        }

        var factor = Math.Pow(2, Math.Min(consecutiveCrashes - 1, 10));
        var ms = Math.Min(delay.TotalMilliseconds * factor, Math.Max(delay.TotalMilliseconds, MaxBackoff.TotalMilliseconds));
        ms *= 0.9 + (Random.Shared.NextDouble() * 0.2);
        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>The preallocated port, when a run ended quickly without ever listening and that port is now held by someone else.</summary>
    private static int? LostItsPort(RunOutcome outcome) =>
        outcome is { PortFound: false, Unhealthy: false, Port: { } port } && outcome.Uptime < MinUptime && !PortAllocator.IsFree(port) ? port : null;

    private static string ExitReason(ExitStatus exit, bool oomKilled) =>
        oomKilled ? "oom_killed: the kernel killed the server for exceeding its memory limit"
        : exit.Signal is { } signal ? $"killed by signal {signal} (exit code {exit.ExitCode})"
        : $"exited with code {exit.ExitCode}";

    private void Fail(ManagedServer server, string reason)
    {
        server.SetStatus(ServerStatus.Failed, reason);
        _log.ServerFailed(server.Slug, reason);
    }

    private Dictionary<string, string> BuildEnvironment(ManagedServer server, int? port)
    {
        var config = server.Config;
        Dictionary<string, string>? fromFile = null;
        if (config.Request.EnvFile is { Length: > 0 } envFile)
        {
            var path = Path.IsPathRooted(envFile) ? envFile : Path.Combine(config.WorkingDirectory, envFile);
            if (File.Exists(path))
            {
                fromFile = EnvFile.Parse(FileOps.ReadText(path)).Variables();
            }
        }

        var env = environment.Build(server.Sandbox.Environment, fromFile, config.Request.Environment);
        if (port is { } p)
        {
            env["PORT"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return env;
    }

    private async Task<int> RunInstallAsync(ManagedServer server, string install, CancellationToken cancellationToken)
    {
        server.SetStatus(ServerStatus.Installing);
        if (!Directory.Exists(server.Config.WorkingDirectory))
        {
            server.Stderr.Append(System.Text.Encoding.UTF8.GetBytes($"sandboxd: working directory {server.Config.WorkingDirectory} does not exist\n"));
            return 127;
        }

        ChildProcess child;
        try
        {
            child = spawner.Spawn(new ProcessSpec(["/bin/sh", "-c", install], server.Config.WorkingDirectory, BuildEnvironment(server, null), StopEarly: false,
                Owner: new ProcessOwner(server.Sandbox.Subdomain, "server-install", server.Slug)),
                Tee(server, server.Stdout), Tee(server, server.Stderr));
        }
        catch (SpawnException e)
        {
            return Spawner.SpawnFailure(e, server.Stderr).ExitCode;
        }
        catch (ArgumentException e)
        {
            // A NUL in a variable of env_file (read at each start): the install cannot run; the server fails, the agent lives.
            server.Stderr.Append(System.Text.Encoding.UTF8.GetBytes($"sandboxd: cannot run the install command: {e.Message}\n"));
            return 126;
        }

        server.Child = child;
        try
        {
            return (await child.Exited.WaitAsync(cancellationToken).ConfigureAwait(false)).ExitCode;
        }
        catch (OperationCanceledException)
        {
            await child.StopAsync(server.Config.StopTimeout, LibC.SIGTERM, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Server logs: each stream is its own log, mirrored into the combined one in arrival order.</summary>
    private static OutputLog Tee(ManagedServer server, OutputLog log)
    {
        log.MirrorToOnce(server.Combined);
        return log;
    }

    private sealed record RunOutcome(ExitStatus Exit, TimeSpan Uptime, bool OomKilled, bool Unhealthy, string Reason, string? FailedToStart, int? Port = null, bool PortFound = false);

    private async Task<RunOutcome> RunOnceAsync(ManagedServer server, CancellationToken cancellationToken)
    {
        var config = server.Config;
        if (!Directory.Exists(config.WorkingDirectory))
        {
            return new RunOutcome(default, TimeSpan.Zero, false, false, "", $"working directory {config.WorkingDirectory} does not exist");
        }

        var reserved = new HashSet<int>(_all.Keys.Where(s => s != server).Select(s => s.ToInfo().RequestedPort ?? 0));
        var port = PortAllocator.Allocate(config.RequestedPort, config.StrictPort, reserved, out var lease);
        using var _ = lease; // the port is this run's until it ends: no other agent of this user hands it out meanwhile
        if (port is null)
        {
            return new RunOutcome(default, TimeSpan.Zero, false, false, "",
                config.StrictPort ? $"port in use: {config.RequestedPort} is taken and strict_port is set" : "no free TCP port to preallocate");
        }

        var limits = config.Limits;
        var defaults = spawner.Options.ServerLimits;
        if (limits is null && (defaults.MemoryMb is not null || defaults.PidsMax is not null))
        {
            limits = ResourceLimits.TryCreate(defaults.MemoryMb, defaults.PidsMax, CgroupHost.Current, out var problem);
            if (problem is not null)
            {
                return new RunOutcome(default, TimeSpan.Zero, false, false, "", "cannot apply --server-memory-mb/--server-pids-max: " + problem);
            }
        }

        ChildProcess child;
        try
        {
            child = spawner.Spawn(new ProcessSpec(["/bin/sh", "-c", config.Start], config.WorkingDirectory, BuildEnvironment(server, port), StopEarly: false,
                Owner: new ProcessOwner(server.Sandbox.Subdomain, "server", server.Slug), Limits: limits),
                Tee(server, server.Stdout), Tee(server, server.Stderr));
        }
        catch (SpawnException e)
        {
            return new RunOutcome(Spawner.SpawnFailure(e, server.Stderr), TimeSpan.Zero, false, false, "", null);
        }
        catch (Exception e) when (limits is not null && e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return new RunOutcome(default, TimeSpan.Zero, false, false, "", $"cannot apply the server's limits: {e.Message}");
        }
        catch (ArgumentException e)
        {
            // A NUL in a variable of env_file (read at each start): this start fails, the agent lives.
            return new RunOutcome(default, TimeSpan.Zero, false, false, "", $"cannot start: {e.Message}");
        }

        server.Child = child;
        server.Spawned(child.Pid, port.Value, limits);
        server.TransitionFrom(ServerStatus.Starting, ServerStatus.Running);
        // Saved now, with the pid: an agent killed from here on leaves a record that the next one uses to stop this process.
        // Not awaited before readiness is watched (a durable write takes a while on a busy disk, and the server's port
        // must be watched from its first moment); awaited before this run ends.
        var persisted = PersistAsync(CancellationToken.None);
        _log.StatusChanged(config.Slug, ServerStatus.Running);
        var started = _time.GetTimestamp();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var readiness = new Readiness(this, server, child, run);
        using (_scanner.Subscribe(readiness.OnPortChange))
        {
            readiness.CheckCurrent();
            _scanner.ScanSoon();
            var hurry = readiness.HurryWhileStartingAsync();
            ExitStatus exit;
            try
            {
                exit = await child.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await child.StopAsync(config.StopTimeout, LibC.SIGTERM, CancellationToken.None).ConfigureAwait(false);
                await run.CancelAsync().ConfigureAwait(false);
                await hurry.ConfigureAwait(false);
                await readiness.DisposeAsync().ConfigureAwait(false);
                await persisted.ConfigureAwait(false);
                var stoppedExit = await child.Exited.ConfigureAwait(false);
                server.Exited(stoppedExit.ExitCode, stoppedExit.Reason(timedOut: false, stopped: true));
                throw;
            }

            // The leader is gone: make sure nothing of its group lingers before deciding what comes next.
            await child.StopAsync(TimeSpan.FromSeconds(1), LibC.SIGTERM, CancellationToken.None).ConfigureAwait(false);
            await run.CancelAsync().ConfigureAwait(false);
            await hurry.ConfigureAwait(false);
            await readiness.DisposeAsync().ConfigureAwait(false);
            await persisted.ConfigureAwait(false);
            // Stopped by the agent before it ended only when readiness gave up on it (an unhealthy server is restarted).
            server.Exited(exit.ExitCode, exit.Reason(timedOut: false, stopped: readiness.Unhealthy));
            return new RunOutcome(exit, _time.GetElapsedTime(started), exit.OomKilled, readiness.Unhealthy, readiness.UnhealthyReason, null, port, readiness.PortFound);
        }
    }
}
