using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>At start stops what a killed previous agent left running (<see cref="ChildLedger"/>); reaps orphans once a
/// second and records them in the ledger; and at shutdown stops every child group still alive (TERM, or HUP for a PTY,
/// → grace → KILL).</summary>
internal sealed class ProcessSupervisorService(Spawner spawner, ChildLedger ledger, IHostApplicationLifetime lifetime, ILogger<ProcessSupervisorService> logger)
    : BackgroundService
{
    private Task _earlyStop = Task.CompletedTask;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!ProcessTable.TryBecomeSubreaper())
        {
            logger.NoSubreaper();
        }

        // A previous agent on this state directory that was killed (-9, OOM) left its commands, terminals and servers
        // running: stop them before anything is started or restored (servers would find their ports taken).
        await ledger.StopPreviousRunAsync(spawner.Options.StopGrace, cancellationToken).ConfigureAwait(false);

        // Shutdown begins: stop commands and terminals right away, so requests waiting on them (foreground commands,
        // waits, WebSockets) end now instead of holding the web server's drain. Servers are stopped gracefully later
        // by their supervisor, with their own stop timeouts.
        lifetime.ApplicationStopping.Register(() => _earlyStop = StopAllAsync(spawner.Live.Where(c => c.StopEarly).ToArray()));
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                spawner.RecordAdopted();
                var reaped = spawner.ReapOrphans();
                if (reaped > 0)
                {
                    logger.ReapedOrphans(reaped);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutdown
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _earlyStop.ConfigureAwait(false);
        await StopAllAsync(spawner.Live.ToArray()).ConfigureAwait(false);
        spawner.Cgroups.RemoveWorkDirs();
    }

    private async Task StopAllAsync(ChildProcess[] live)
    {
        if (live.Length == 0)
        {
            return;
        }

        logger.StoppingAll(live.Length);
        await Task.WhenAll(live.Select(async child =>
        {
            try
            {
                await child.StopAsync(spawner.Options.StopGrace, child.StopSignal, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                logger.StopFailed(e, child.Pid);
            }
        })).ConfigureAwait(false);
        spawner.ReapOrphans();
    }
}
