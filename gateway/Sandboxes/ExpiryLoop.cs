using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Sandboxes;

/// <summary>
/// Every 250 ms (on the injected <see cref="TimeProvider"/>): destroys expired sandboxes; every 2 s also reports
/// sandboxes whose agent died (or whose container vanished) as gone and, on a shared store, repairs records left
/// creating or destroying by a gateway that died. On a shared store only the holder of the sweep lease does this (taken
/// or renewed every second, 5 s long), and every gateway beats its heartbeat every second; a clean stop releases both.
/// Every 4 s each gateway reconciles with the engines what it labelled itself (<see cref="SandboxService.ReconcileAsync"/>),
/// lease or not. Owned by the host, which awaits it at shutdown.
/// </summary>
internal sealed class ExpiryLoop(SandboxService sandboxes, ISandboxStore store, TimeProvider time, ILogger<ExpiryLoop> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private const int TicksPerSweep = 8;
    private const int TicksPerLeaseCheck = 4;
    private const int TicksPerReconcile = 16;

    /// <summary>How long a sweep lease lasts unrenewed: a killed holder is replaced within this (plus one second).</summary>
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(5);

    /// <summary>How long a heartbeat lasts: records a killed gateway was creating or destroying are repaired after this.</summary>
    public static readonly TimeSpan HeartbeatTtl = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        var ticks = 0;
        var holding = !store.Shared;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (store.Shared && ticks % TicksPerLeaseCheck == 0)
                    {
                        holding = await RenewAsync(holding, stoppingToken);
                    }

                    ticks++;
                    if (ticks % TicksPerReconcile == 0)
                    {
                        await sandboxes.ReconcileAsync(stoppingToken);
                    }

                    if (!holding)
                    {
                        continue;
                    }

                    await sandboxes.ExpireDueAsync(stoppingToken);
                    if (ticks % TicksPerSweep == 0)
                    {
                        await sandboxes.SweepDeadAsync(stoppingToken);
                        if (store.Shared)
                        {
                            await sandboxes.RepairOrphansAsync(stoppingToken);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.SweepFailed(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutdown
        }

        if (store.Shared)
        {
            await ReleaseAsync();
        }
    }

    private async Task<bool> RenewAsync(bool holding, CancellationToken cancellationToken)
    {
        await store.HeartbeatAsync(HeartbeatTtl, cancellationToken);
        var holds = await store.TryHoldLeaseAsync(StoreText.SweepLease, LeaseTtl, cancellationToken);
        if (holds != holding)
        {
            logger.SweepLease(holds ? "took" : "lost");
        }

        return holds;
    }

    private async Task ReleaseAsync()
    {
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            await store.ReleaseAsync(deadline.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.SweepFailed(e); // the lease and heartbeat then run out by themselves
        }
    }
}
