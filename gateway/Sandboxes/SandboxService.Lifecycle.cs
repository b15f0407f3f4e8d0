using System.Text.Json;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;
using Sandboxd.Gateway.Providers;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Sandboxes;

internal sealed partial class SandboxService
{
    /// <summary>Starts the agent of a record written as <c>creating</c>; the record becomes ready, or gone if that fails.</summary>
    private async Task<SandboxRecord> StartAsync(SandboxRecord record, SandboxSpec spec)
    {
        // The caller may go away; the creation still completes (its record must not stay "creating").
        var cancellationToken = CancellationToken.None;
        try
        {
            var started = await provider.StartAsync(record, spec, cancellationToken);
            var ready = record with
            {
                Status = SandboxStatus.Ready,
                // The timeout counts from the moment the sandbox can be used: a start slower than the timeout (a busy
                // host, a pulled image) no longer hands the caller a sandbox that expires as it becomes ready.
                ExpiresAt = record.ExpiresAt is { } expires ? expires + (time.GetUtcNow() - record.CreatedAt) : null,
                Url = started.Url,
                Token = started.Token,
                AgentPid = started.Pid,
                AgentStartTicks = started.StartTicks,
                Root = started.Root,
            };
            await store.UpdateAsync(ready, cancellationToken);
            logger.Created(ready.Id, ready.Namespace ?? "", ready.Name ?? "", ready.Url!);
            return ready;
        }
        catch (Exception e)
        {
            logger.CreateFailed(e, record.Id);
            await store.UpdateAsync(record with { Status = SandboxStatus.Gone, GoneReason = "failed to start: " + e.Message }, cancellationToken);
            await TryStopAsync(record);
            throw e as GatewayException ?? new GatewayException(GatewayErrorCode.AgentFailed, $"The sandbox could not be started: {e.Message}", e);
        }
    }

    /// <summary>Stops a record already marked destroying, then marks it gone (freeing its name).</summary>
    public async Task StopAndForgetAsync(SandboxRecord record, string reason)
    {
        _stopping.TryAdd(record.Id, 0);
        try
        {
            await provider.StopAsync(record, CancellationToken.None);
            await store.UpdateAsync(record with { Status = SandboxStatus.Gone, GoneReason = reason }, CancellationToken.None);
            logger.Destroyed(record.Id, reason);
        }
        finally
        {
            _stopping.TryRemove(record.Id, out _);
        }
    }

    /// <summary>Marks a sandbox whose agent died gone (not resurrected) and removes what is left of it.</summary>
    public async Task ForgetDeadAsync(SandboxRecord record, string reason, CancellationToken cancellationToken)
    {
        if (!await store.TryTransitionAsync(record.Id, record.Status, SandboxStatus.Destroying, cancellationToken))
        {
            return;
        }

        logger.AgentDied(record.Id, record.AgentPid, reason);
        await StopAndForgetAsync(record, reason);
    }

    /// <summary>Destroys every ready sandbox whose expiry has passed.</summary>
    public async Task ExpireDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var record in await store.ListActiveAsync(cancellationToken))
        {
            if (record.Status == SandboxStatus.Ready && record.ExpiresAt <= now && provider.IsReachable(record)
                && await store.TryTransitionAsync(record.Id, SandboxStatus.Ready, SandboxStatus.Destroying, cancellationToken))
            {
                await StopAndForgetAsync(record, "expired");
            }
        }
    }

    /// <summary>Records the agent's new address when its engine restarted it elsewhere (another published port).</summary>
    public async Task<SandboxRecord> RefreshUrlAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (await provider.CurrentUrlAsync(record, cancellationToken) is { } url && url != record.Url
            && await store.GetAsync(record.Id, cancellationToken) is { Status: SandboxStatus.Ready } current)
        {
            record = current with { Url = url };
            await store.UpdateAsync(record, cancellationToken);
            logger.Moved(record.Id, url);
        }

        return record;
    }

    /// <summary>Ready sandboxes whose agent process is no longer there become gone; live ones get their current address.</summary>
    public async Task SweepDeadAsync(CancellationToken cancellationToken)
    {
        foreach (var record in await store.ListActiveAsync(cancellationToken))
        {
            if (record.Status != SandboxStatus.Ready)
            {
                continue;
            }

            if (!await provider.IsAliveAsync(record, cancellationToken))
            {
                await ForgetDeadAsync(record, "its agent exited", cancellationToken);
            }
            else
            {
                await RefreshUrlAsync(record, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Periodic reconciliation: what this gateway started without a live record is removed (after a grace period), and
    /// records left <c>destroying</c> while their engine was down are finished once it is back.
    /// </summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await provider.RemoveOrphansAsync(store.ListActiveAsync, cancellationToken);
        foreach (var record in await store.ListActiveAsync(cancellationToken))
        {
            // On a shared store a record another gateway is destroying is that gateway's to finish (finishing it here
            // too raced its engine call: "removal already in progress", seen by the fleet scenario); one a dead gateway
            // left is the lease holder's (RepairOrphansAsync).
            if (record.Status == SandboxStatus.Destroying && provider.IsReachable(record) && !_stopping.ContainsKey(record.Id)
                && (!store.Shared || record.Gateway == options.InstanceId))
            {
                await StopAndForgetAsync(record, "destroyed");
            }
        }
    }

    /// <summary>
    /// Shared store: records left creating or destroying by a gateway whose heartbeat ran out (it was killed) are
    /// finished here — stopped and gone — as the reconciler does at start for a gateway's own store.
    /// </summary>
    public async Task RepairOrphansAsync(CancellationToken cancellationToken)
    {
        var live = await store.ListLiveGatewaysAsync(cancellationToken);
        foreach (var record in await store.ListActiveAsync(cancellationToken))
        {
            if (record.Status is SandboxStatus.Ready || record.Gateway == options.InstanceId || (record.Gateway is { } g && live.Contains(g)))
            {
                continue;
            }

            logger.Orphaned(record.Id, StoreText.StatusName(record.Status), record.Gateway ?? "(none)");
            if (record.Status == SandboxStatus.Creating)
            {
                await ForgetDeadAsync(record, "the gateway creating it stopped", cancellationToken);
            }
            else if (await store.TryTransitionAsync(record.Id, SandboxStatus.Destroying, SandboxStatus.Destroying, cancellationToken))
            {
                await StopAndForgetAsync(record, "destroyed");
            }
        }
    }

    private async Task TryStopAsync(SandboxRecord record)
    {
        try
        {
            await provider.StopAsync(record, CancellationToken.None);
        }
        catch (Exception e) when (e is GatewayException or IOException or TimeoutException or InvalidOperationException)
        {
            logger.CleanupFailed(record.Id, e.Message);
        }
    }

    private SandboxInfo ToInfo(SandboxRecord record) => new(
        SandboxId: record.Id,
        Url: record.Status == SandboxStatus.Ready ? Proxy.ProxyMiddleware.PublicUrl(options, record) : "",
        Token: record.Token,
        Provider: provider.Name,
        Metadata: ParseJson(record.MetadataJson),
        Name: record.Name,
        Namespace: record.Namespace,
        Status: record.Status == SandboxStatus.Creating ? "creating" : provider.IsReachable(record) ? "ready" : "unavailable",
        ExpiresAt: record.ExpiresAt?.ToString("O"),
        Engine: record.Engine);

    private static JsonElement? ParseJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
