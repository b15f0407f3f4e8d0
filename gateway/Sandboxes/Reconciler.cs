using Sandboxd.Gateway.Providers;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Sandboxes;

/// <summary>
/// At start, before the gateway serves: compares the store with what still runs. A ready sandbox whose agent is the
/// same live process (pid + start time) and answers <c>/health</c> is kept; one whose agent died is reported gone, not
/// restarted; one caught mid-create or mid-destroy (the gateway died in between) is stopped and gone. Then it removes
/// what this gateway started that no live record claims (<see cref="IProvider.RemoveOrphansAsync"/>).
/// On a shared store (several gateways, PostgreSQL) the records are not this gateway's alone: it only says it is alive
/// and removes its own orphans; the holder of the sweep lease repairs what a dead gateway left (<see cref="ExpiryLoop"/>).
/// </summary>
internal sealed class Reconciler(ISandboxStore store, IProvider provider, SandboxService sandboxes, ILogger<Reconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken);
        if (provider is LocalProvider local)
        {
            if (local.Isolation is { } bwrap)
            {
                logger.Isolated(bwrap);
            }
            else
            {
                logger.NotIsolated();
            }
        }

        if (store.Shared)
        {
            await store.HeartbeatAsync(ExpiryLoop.HeartbeatTtl, cancellationToken);
            await provider.RemoveOrphansAsync(store.ListActiveAsync, cancellationToken);
            return;
        }

        foreach (var record in await store.ListActiveAsync(cancellationToken))
        {
            if (!provider.IsReachable(record))
            {
                // Its engine is down: unavailable, not gone; the periodic reconciliation takes it up when it is back.
                logger.Unreachable(record.Id, record.Engine ?? "");
                continue;
            }

            switch (record.Status)
            {
                case SandboxStatus.Ready when await provider.ProbeAsync(record, cancellationToken):
                    await sandboxes.RefreshUrlAsync(record, cancellationToken);
                    logger.Reattached(record.Id, record.AgentPid, record.Url!);
                    break;
                case SandboxStatus.Ready:
                    await sandboxes.ForgetDeadAsync(record, "its agent died while the gateway was down", cancellationToken);
                    break;
                case SandboxStatus.Creating:
                    await sandboxes.ForgetDeadAsync(record, "the gateway stopped while it was being created", cancellationToken);
                    break;
                default:
                    await sandboxes.StopAndForgetAsync(record, "destroyed");
                    break;
            }
        }

        await provider.RemoveOrphansAsync(store.ListActiveAsync, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
