using Sandboxd.Gateway.Docker;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

/// <summary>
/// <c>--provider docker</c>: each sandbox is a container of the agent image on one of several Docker engines
/// (<see cref="DockerEngines"/>), named <c>sandboxd-&lt;sandbox id&gt;</c> and labelled with this gateway's id and the
/// sandbox id. The record's <c>engine</c> says which engine holds it; its <c>dir</c> is the container name.
/// docs/gateway.md § "The docker provider" and docs/adr/0009-docker-provider.md hold the decisions.
/// </summary>
internal sealed partial class DockerProvider(
    DockerEngines engines, GatewayOptions options, TimeProvider time, IHttpClientFactory http, ILogger<DockerProvider> logger) : IProvider
{
    public const string GatewayLabel = "sandboxd.gateway";
    public const string SandboxLabel = "sandboxd.sandbox";
    private const string SnapshotRepository = "sandboxd-snapshot";
    private const string DefaultRoot = "/workspace";
    private const int StopGraceSeconds = 10;

    /// <summary>
    /// How long a stopped container still counts as alive: an engine shutting down stops its containers while its API
    /// still answers, and brings them back when it starts (restart policy); an agent that crashed is restarted at once.
    /// </summary>
    private static readonly TimeSpan StoppedGrace = TimeSpan.FromSeconds(30);

    public string Name => "docker";

    public static string ContainerName(string sandboxId) => "sandboxd-" + sandboxId;

    public SandboxPlacement Place(string sandboxId, SandboxSpec spec, IReadOnlyList<SandboxRecord> active)
    {
        DockerEngine engine;
        if (spec.Snapshot is { } location)
        {
            // A snapshot is an image on one engine (no registry between engines): the sandbox goes there.
            engine = engines.Up(ParseSnapshot(location).Engine);
        }
        else
        {
            var used = active.Where(r => r.Engine is not null).GroupBy(r => r.Engine!).ToDictionary(g => g.Key, g => g.Count());
            engine = engines.Place(used);
        }

        return new SandboxPlacement(ContainerName(sandboxId), spec.Directory ?? DefaultRoot, engine.Name);
    }

    public async Task StopAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        var engine = engines.Up(record.Engine);
        await engine.Client.RemoveContainerAsync(ContainerName(record.Id), StopGraceSeconds, cancellationToken);
        CrashPoint.Hit("after-container-remove", logger);
    }

    public async Task<bool> IsAliveAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (!engines.TryGet(record.Engine, out var engine) || !engine.IsUp)
        {
            return true; // unknown while its engine is down: unavailable, not gone
        }

        try
        {
            var state = (await engine.Client.InspectAsync(ContainerName(record.Id), cancellationToken))?.State;
            return state is { Running: true } or { Restarting: true }
                || (state is { FinishedAt: { } finished } && finished > time.GetUtcNow() - StoppedGrace);
        }
        catch (HttpRequestException)
        {
            return true;
        }
    }

    /// <summary>
    /// After the engine restarted the container (its own restart, or an agent crash) the agent may answer on another
    /// port: the published port (bridge) or the last ready line (host networking) says where.
    /// </summary>
    public async Task<string?> CurrentUrlAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (!engines.TryGet(record.Engine, out var engine) || !engine.IsUp)
        {
            return null;
        }

        var name = ContainerName(record.Id);
        return await engine.Client.InspectAsync(name, cancellationToken) is { State.Running: true } inspect
            ? await CurrentUrlAsync(engine, name, inspect, cancellationToken)
            : null;
    }

    public bool IsReachable(SandboxRecord record) => engines.TryGet(record.Engine, out var engine) && engine.IsUp;

    /// <summary>
    /// A running (or restarting) container is a live sandbox: right after its engine restarted it, its agent may not
    /// answer yet, and that is no reason to destroy it. While the engine is down the sandbox is kept (unavailable).
    /// </summary>
    public Task<bool> ProbeAsync(SandboxRecord record, CancellationToken cancellationToken) => IsAliveAsync(record, cancellationToken);

    /// <summary><c>docker commit</c> of the container as <c>sandboxd-snapshot:&lt;snapshot id&gt;</c> on its engine.</summary>
    public async Task<string> SnapshotAsync(SandboxRecord record, string snapshotId, CancellationToken cancellationToken)
    {
        var engine = engines.Up(record.Engine);
        var image = $"{SnapshotRepository}:{snapshotId}";
        await engine.Client.CommitAsync(ContainerName(record.Id), image, cancellationToken);
        return $"docker:{engine.Name}:{image}";
    }

    public bool HasSnapshot(string location) =>
        location.StartsWith("docker:", StringComparison.Ordinal) && engines.TryGet(ParseSnapshot(location).Engine, out _);

    public async Task DeleteSnapshotAsync(string location, CancellationToken cancellationToken)
    {
        var (engineName, image) = ParseSnapshot(location);
        await engines.Up(engineName).Client.RemoveImageAsync(image, cancellationToken);
    }

    /// <summary>
    /// On every healthy engine: containers labelled with this gateway's id whose sandbox has no live record, and that
    /// are older than the grace period, are removed. The containers are listed before the records are read, so a
    /// container being created now (its record is written first) is never taken for an orphan.
    /// </summary>
    public async Task RemoveOrphansAsync(Func<CancellationToken, Task<IReadOnlyList<SandboxRecord>>> active, CancellationToken cancellationToken)
    {
        foreach (var engine in engines.All.Where(e => e.IsUp))
        {
            try
            {
                var containers = await engine.Client.ListByLabelAsync(GatewayLabel, engines.GatewayId, cancellationToken);
                if (containers.Count == 0)
                {
                    continue;
                }

                var live = (await active(cancellationToken)).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
                var cutoff = time.GetUtcNow() - engines.Options.OrphanGrace;
                foreach (var container in containers)
                {
                    var sandbox = container.Labels?.GetValueOrDefault(SandboxLabel) ?? "";
                    if (!live.Contains(sandbox) && DateTimeOffset.FromUnixTimeSeconds(container.Created) < cutoff)
                    {
                        await engine.Client.RemoveContainerAsync(container.Id, 0, cancellationToken);
                        logger.OrphanRemoved(engine.Name, container.Id[..12], sandbox, engines.Options.OrphanGrace.TotalSeconds);
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or DockerEngineException or IOException)
            {
                logger.ReconcileFailed(engine.Name, e.Message);
            }
        }
    }

    private static (string Engine, string Image) ParseSnapshot(string location)
    {
        var parts = location.Split(':', 3);
        return parts.Length == 3 && parts[0] == "docker"
            ? (parts[1], parts[2])
            : throw new GatewayException(GatewayErrorCode.NotFound, "That snapshot was not taken by the docker provider.");
    }

    private async Task<bool> HealthyAsync(string url, CancellationToken cancellationToken)
    {
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(3), time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            using var response = await http.CreateClient("agents").GetAsync(url + "/health", timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
