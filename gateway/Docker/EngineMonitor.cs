namespace Sandboxd.Gateway.Docker;

/// <summary>
/// Pings every engine (<c>/_ping</c>) at start — before the reconciler runs, so it knows which engines answer — and
/// then every <see cref="DockerOptions.HealthInterval"/>; an engine is down after
/// <see cref="DockerOptions.HealthFailures"/> failures in a row and up again at the first success.
/// </summary>
internal sealed class EngineMonitor(DockerEngines engines, TimeProvider time, ILogger<EngineMonitor> logger) : BackgroundService
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // At start one failure is enough to call an engine down: nothing is placed on an engine that did not answer.
        await Task.WhenAll(engines.All.Select(e => CheckAsync(e, failuresForDown: 1, cancellationToken)));
        foreach (var engine in engines.All.Where(e => !e.IsUp))
        {
            logger.EngineDown(engine.Name, engine.Spec.Endpoint, engine.LastError ?? "no answer");
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(engines.Options.HealthInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await Task.WhenAll(engines.All.Select(e => CheckAsync(e, engines.Options.HealthFailures, stoppingToken)));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutdown
        }
    }

    private async Task CheckAsync(DockerEngine engine, int failuresForDown, CancellationToken cancellationToken)
    {
        string? error = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CheckTimeout);
            await engine.CheckAsync(timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or DockerEngineException or IOException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            error = e.Message;
        }

        engine.LastError = error;
        switch (engine.Record(error is null, failuresForDown))
        {
            case true:
                logger.EngineUp(engine.Name, engine.Spec.Endpoint, engine.Version ?? "?", engine.Network.ToString().ToLowerInvariant(), engine.Spec.Capacity);
                break;
            case false:
                logger.EngineDown(engine.Name, engine.Spec.Endpoint, error ?? "");
                break;
        }
    }
}

internal static partial class DockerLog
{
    [LoggerMessage(4000, LogLevel.Information, "Docker engine {Engine} ({Endpoint}) is up: dockerd {Version}, {Network} networking, capacity {Capacity}")]
    public static partial void EngineUp(this ILogger logger, string engine, string endpoint, string version, string network, int capacity);

    [LoggerMessage(4001, LogLevel.Warning, "Docker engine {Engine} ({Endpoint}) is down ({Error}): its sandboxes are reported unavailable until it answers again")]
    public static partial void EngineDown(this ILogger logger, string engine, string endpoint, string error);

    [LoggerMessage(4002, LogLevel.Information, "Sandbox {SandboxId}: container {Container} on engine {Engine} serving {Url}")]
    public static partial void ContainerStarted(this ILogger logger, string sandboxId, string container, string engine, string url);

    [LoggerMessage(4003, LogLevel.Warning, "Engine {Engine}: removed container {Container} labelled by this gateway for sandbox {SandboxId}, which has no live record (older than the {Grace} s grace period)")]
    public static partial void OrphanRemoved(this ILogger logger, string engine, string container, string sandboxId, double grace);

    [LoggerMessage(4004, LogLevel.Warning, "Engine {Engine}: reconciliation failed: {Error}")]
    public static partial void ReconcileFailed(this ILogger logger, string engine, string error);

    [LoggerMessage(4005, LogLevel.Information, "Pulling {Image} on engine {Engine} (--docker-pull {Policy})")]
    public static partial void Pulling(this ILogger logger, string image, string engine, string policy);
}
