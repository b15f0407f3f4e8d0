namespace Sandboxd.Gateway.Sandboxes;

/// <summary>
/// Every 250 ms (on the injected <see cref="TimeProvider"/>): destroys expired sandboxes; every 2 s also reports
/// sandboxes whose agent died (or whose container vanished) as gone; every 4 s reconciles with the engines
/// (<see cref="SandboxService.ReconcileAsync"/>). Owned by the host, which awaits it at shutdown.
/// </summary>
internal sealed class ExpiryLoop(SandboxService sandboxes, TimeProvider time, ILogger<ExpiryLoop> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private const int TicksPerSweep = 8;
    private const int TicksPerReconcile = 16;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        var ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await sandboxes.ExpireDueAsync(stoppingToken);
                    if (++ticks % TicksPerSweep == 0)
                    {
                        await sandboxes.SweepDeadAsync(stoppingToken);
                    }

                    if (ticks % TicksPerReconcile == 0)
                    {
                        await sandboxes.ReconcileAsync(stoppingToken);
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
    }
}
