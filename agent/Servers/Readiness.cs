using Sandboxd.Native;
using Sandboxd.Ports;
using Sandboxd.Processes;

namespace Sandboxd.Servers;

internal sealed partial class ServerSupervisor
{
    /// <summary>
    /// Readiness of one run: the first listening port owned by the server's process tree sets port and url; then the
    /// server is ready at once, or after its first passing health check. Health checks keep running; a ready server
    /// that fails <see cref="UnhealthyThreshold"/> checks in a row is unhealthy and, unless the policy is "never",
    /// its group is stopped so the supervision loop restarts it.
    /// </summary>
    private sealed class Readiness(ServerSupervisor owner, ManagedServer server, ChildProcess child, CancellationTokenSource run) : IAsyncDisposable
    {
        /// <summary>How long a run keeps the port scanner fast while its port has not opened.</summary>
        private static readonly TimeSpan HurryFor = TimeSpan.FromSeconds(30);
        private readonly Lock _gate = new();
        private readonly IDisposable _hurry = owner._scanner.Hurry();
        private Task _health = Task.CompletedTask;
        private bool _found;
        /// <summary>The run is over: a port change the scanner delivers late must not touch it (its token source is disposed). Guarded by <see cref="_gate"/>.</summary>
        private bool _over;

        /// <summary>Stops hurrying the scanner after <see cref="HurryFor"/> (a server may never listen).</summary>
        public async Task HurryWhileStartingAsync()
        {
            try
            {
                await Task.Delay(HurryFor, owner._time, run.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // the run ended
            }
            finally
            {
                _hurry.Dispose();
            }
        }

        public bool Unhealthy { get; private set; }
        public string UnhealthyReason { get; private set; } = "";

        /// <summary>The server's tree was seen listening during this run.</summary>
        public bool PortFound
        {
            get
            {
                lock (_gate)
                {
                    return _found;
                }
            }
        }

        public void CheckCurrent()
        {
            foreach (var port in owner._scanner.Current)
            {
                OnPortChange(new PortChange(port, Opened: true));
            }
        }

        public void OnPortChange(PortChange change)
        {
            if (change.Opened && PortFound)
            {
                // Every run's readiness hears of every listener the machine opens: once this run's port is known, an
                // opened one is not its news — no walk up the new owner's parents through /proc (100 servers did 100
                // walks for each listener any process on the machine opened).
                return;
            }

            if (!change.Opened || change.Port.Pid is not { } pid || !InTree(pid, child.Pid))
            {
                if (!change.Opened && server.Port == change.Port.Port && change.Port.Pid is { } gone && InTreeOrGone(gone))
                {
                    server.PortDetected(0, "", "");
                }

                return;
            }

            // The scanner calls subscribers from a snapshot, so this can run after the run has ended; holding the gate
            // while the port is recorded means DisposeAsync, once it has the gate, has seen the last of this run.
            lock (_gate)
            {
                if (_found || _over)
                {
                    return;
                }

                _found = true;
                _hurry.Dispose();

                var url = owner._urls.PreviewUrl(change.Port.Port, server.Sandbox.Subdomain, null);
                server.PortDetected(change.Port.Port, change.Port.Address, url);
                owner._log.PortFound(server.Slug, change.Port.Address, change.Port.Port);
                if (!server.Sandbox.IsMain)
                {
                    owner._signals.EmitPort(server.Sandbox, change.Port.Port, "open", url, change.Port.Address, pid);
                }

                if (server.Config.HealthCheck is null)
                {
                    MarkReady(change.Port.Port, url);
                }
                else
                {
                    _health = HealthLoopAsync(change.Port.Port, url, run.Token);
                }
            }
        }

        private bool InTreeOrGone(int pid) => !ProcessTable.TryReadStat(pid, out _) || InTree(pid, child.Pid);

        private static bool InTree(int pid, int root)
        {
            for (var depth = 0; depth < 64 && pid > 1; depth++)
            {
                if (pid == root)
                {
                    return true;
                }

                if (!ProcessTable.TryReadStat(pid, out var stat))
                {
                    return false;
                }

                if (stat.Session == root || stat.ProcessGroup == root)
                {
                    return true;
                }

                pid = stat.ParentPid;
            }

            return false;
        }

        private void MarkReady(int port, string url)
        {
            if (server.TransitionFrom(ServerStatus.Running, ServerStatus.Ready))
            {
                owner._log.StatusChanged(server.Slug, ServerStatus.Ready);
                owner._signals.EmitServerReady(server.Sandbox, port, url);
            }
        }

        private async Task HealthLoopAsync(int port, string url, CancellationToken cancellationToken)
        {
            var check = server.Config.HealthCheck!;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(check.DelayMs ?? 0), owner._time, cancellationToken).ConfigureAwait(false);
                var wasReady = false;
                var request = HealthProbe.Request(port, check.Path ?? "/");
                while (!cancellationToken.IsCancellationRequested)
                {
                    int? status = null;
                    var passed = false;
                    string problem;
                    try
                    {
                        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(check.TimeoutMs ?? 1500), owner._time);
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                        status = await HealthProbe.GetStatusAsync(port, request, timeout.Token).ConfigureAwait(false);
                        passed = status < 400;
                        problem = $"GET {check.Path} answered {status}";
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        problem = $"GET {check.Path} timed out after {check.TimeoutMs} ms";
                    }
                    catch (Exception e) when (e is HealthProbeException or IOException)
                    {
                        problem = $"GET {check.Path} failed: {e.Message}";
                    }

                    var failures = server.HealthChecked(status, passed);
                    if (passed && !wasReady)
                    {
                        wasReady = true;
                        MarkReady(port, url);
                    }
                    else if (!passed && failures >= UnhealthyThreshold)
                    {
                        UnhealthyReason = $"health check failing: {problem} ({failures} consecutive failures)";
                        if (wasReady && server.Config.RestartPolicy != "never" && !Unhealthy)
                        {
                            Unhealthy = true;
                            _ = child.SignalGroup(LibC.SIGTERM); // the supervision loop sees the exit and restarts
                        }
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(check.IntervalMs ?? 2000), owner._time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // the run ended
            }
        }

        public async ValueTask DisposeAsync()
        {
            _hurry.Dispose();
            Task health;
            lock (_gate)
            {
                _over = true;
                health = _health;
            }

            await health.ConfigureAwait(false);
        }
    }
}
