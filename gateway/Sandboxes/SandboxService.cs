using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;
using Sandboxd.Gateway.Providers;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Sandboxes;

/// <summary>
/// The gateway's rules: create, get, destroy, findOrCreate, find, extend; namespaces and exactly-once findOrCreate
/// (the store's unique index decides the winner); expiry. Nothing here knows where a sandbox runs (<see cref="IProvider"/>).
/// Every transition is written to the store before or after the provider call, so a crash in between is repaired by
/// <see cref="Reconciler"/>.
/// </summary>
internal sealed partial class SandboxService(ISandboxStore store, IProvider provider, TimeProvider time, GatewayOptions options, ILogger<SandboxService> logger)
{
    private static readonly TimeSpan CreatingWait = TimeSpan.FromSeconds(30);

    /// <summary>Sandboxes this process is stopping now (the periodic reconciliation leaves them alone).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _stopping = new();

    public async Task<SandboxInfo> CreateAsync(Owner owner, CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        if (request.Name is not null)
        {
            request = request with { Namespace = request.Namespace ?? "default" };
        }

        var (record, spec) = await PrepareAsync(owner, request, cancellationToken);
        if (!await store.TryInsertAsync(record, cancellationToken))
        {
            throw new GatewayException(GatewayErrorCode.Conflict,
                $"A sandbox named '{request.Name}' already exists in namespace '{request.Namespace}'; use findOrCreate to get it, or destroy it first.");
        }

        return ToInfo(await StartAsync(record, spec));
    }

    public async Task<SandboxInfo> FindOrCreateAsync(Owner owner, CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        var name = RequireName(request.Name);
        request = request with { Namespace = request.Namespace ?? "default" };
        if (await store.FindByNameAsync(owner.KeyHash, request.Namespace, name, cancellationToken) is { } existing)
        {
            return ToInfo(existing);
        }

        var (record, spec) = await PrepareAsync(owner, request, cancellationToken);
        if (await store.TryInsertAsync(record, cancellationToken))
        {
            return ToInfo(await StartAsync(record, spec));
        }

        // Another call created it between the lookup and the insert: answer with that one ("creating" → the client polls).
        return await store.FindByNameAsync(owner.KeyHash, request.Namespace, name, cancellationToken) is { } winner
            ? ToInfo(winner)
            : throw new GatewayException(GatewayErrorCode.Unavailable, $"The sandbox '{name}' was destroyed while this call created it; try again.");
    }

    public async Task<SandboxInfo> FindAsync(Owner owner, FindSandboxRequest request, CancellationToken cancellationToken)
    {
        var name = RequireName(request.Name);
        var @namespace = request.Namespace ?? "default";
        return await store.FindByNameAsync(owner.KeyHash, @namespace, name, cancellationToken) is { } record
            ? ToInfo(record)
            : throw new GatewayException(GatewayErrorCode.NotFound, $"No sandbox named '{name}' in namespace '{@namespace}'.");
    }

    public async Task<SandboxInfo> GetAsync(Owner owner, string id, CancellationToken cancellationToken) =>
        ToInfo(await GetReadyAsync(owner, id, cancellationToken));

    public async Task DestroyAsync(Owner owner, string id, CancellationToken cancellationToken)
    {
        var record = await GetReadyAsync(owner, id, cancellationToken);
        if (!provider.IsReachable(record))
        {
            throw new GatewayException(GatewayErrorCode.Unavailable, $"Sandbox {id} is unavailable: the Docker engine '{record.Engine}' holding it is down. Try again when it is back.");
        }

        if (!await store.TryTransitionAsync(record.Id, SandboxStatus.Ready, SandboxStatus.Destroying, cancellationToken))
        {
            throw NotFound(id); // another call is destroying it
        }

        await StopAndForgetAsync(record, "destroyed");
    }

    public async Task ExtendAsync(Owner owner, string id, ExtendSandboxRequest request, CancellationToken cancellationToken)
    {
        var duration = request.Duration ?? 900_000;
        if (duration <= 0)
        {
            throw new GatewayException(GatewayErrorCode.BadRequest, "duration must be a positive number of milliseconds.");
        }

        var record = await GetReadyAsync(owner, id, cancellationToken);
        if (record.ExpiresAt is not { } expires)
        {
            return; // created without a timeout: it does not expire
        }

        var now = time.GetUtcNow();
        var extended = (expires > now ? expires : now) + TimeSpan.FromMilliseconds(duration);
        if (!await store.TrySetExpiryAsync(record.Id, extended, cancellationToken))
        {
            throw NotFound(id);
        }

        logger.Extended(record.Id, extended);
    }

    /// <summary>The caller's sandbox, waiting (bounded) while it is still being created; 404 if it is not the caller's or is gone.</summary>
    public async Task<SandboxRecord> GetReadyAsync(Owner owner, string id, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + CreatingWait;
        while (true)
        {
            var record = await store.GetAsync(id, cancellationToken);
            if (record is null || record.Owner != owner.KeyHash || record.Status is SandboxStatus.Gone or SandboxStatus.Destroying)
            {
                throw NotFound(id);
            }

            if (record.Status == SandboxStatus.Ready)
            {
                return record;
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new GatewayException(GatewayErrorCode.Unavailable, $"Sandbox {id} is still being created; try again.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
        }
    }

    private static string RequireName(string? name) =>
        string.IsNullOrWhiteSpace(name) ? throw new GatewayException(GatewayErrorCode.BadRequest, "name is required.") : name;

    private static GatewayException NotFound(string id) => new(GatewayErrorCode.NotFound, $"Sandbox {id} not found.");
}
