using System.Collections.Concurrent;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Ports;
using Sandboxd.Processes;
using Sandboxd.Protocol;
using Sandboxd.State;

namespace Sandboxd.Servers;

/// <summary>
/// Supervises every server of every sandbox: install → start → running → ready (port bound by the server's own
/// process tree, then a passing health check), restarts per policy with backoff, graceful group stops, logs, and
/// persistence of the definitions so an agent restart brings running servers back.
/// </summary>
internal sealed partial class ServerSupervisor(
    Spawner spawner,
    ChildEnvironment environment,
    PortScanner scanner,
    ISignalEmitter signals,
    PublicUrls urls,
    StateStore state,
    SandboxRegistry sandboxes,
    ISandboxOverlays overlays,
    TimeProvider time,
    ILogger<ServerSupervisor> logger) : IHostedService, IDisposable, ISandboxScoped, ISandboxServers
{
    public Task CloseAsync(SandboxContext sandbox) => StopAllAsync(sandbox);

    private readonly PortScanner _scanner = scanner;
    private readonly ISignalEmitter _signals = signals;
    private readonly PublicUrls _urls = urls;
    private readonly ILogger _log = logger;
    private readonly TimeProvider _time = time;

    private readonly SemaphoreSlim _persistGate = new(1, 1);
    private readonly ConcurrentDictionary<ManagedServer, byte> _all = new();
    private volatile bool _shuttingDown;

    public static ConcurrentDictionary<string, ManagedServer> Registry(SandboxContext sandbox) =>
        sandbox.Feature(() => new ConcurrentDictionary<string, ManagedServer>(StringComparer.Ordinal));

    /// <summary>True when a server started with <c>public: true</c> currently listens on <paramref name="port"/>.</summary>
    public bool IsPublicPort(int port) => _all.Keys.Any(s => s.Config.Public && s.Port == port);

    public static IEnumerable<ManagedServer> List(SandboxContext sandbox) => Registry(sandbox).Values.OrderBy(s => s.CreatedAt);

    string? ISandboxServers.Validate(StartServerRequest request)
    {
        ServerConfig.TryCreate(request, p => p, out var error);
        return error;
    }

    async Task<string?> ISandboxServers.StartAsync(SandboxContext sandbox, StartServerRequest request, CancellationToken cancellationToken)
    {
        var config = ServerConfig.TryCreate(request, sandbox.Resolve, out var error);
        if (config is null)
        {
            return error;
        }

        try
        {
            await StartAsync(sandbox, config, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (SandboxdException e) when (e.Kind == ErrorKind.Conflict)
        {
            return e.Message;
        }
    }

    IReadOnlyList<SandboxServer> ISandboxServers.Describe(SandboxContext sandbox) =>
        [.. List(sandbox).Select(s => s.ToInfo()).Select(s => new SandboxServer(s.Slug, s.Status, s.Port, s.Url, s.Healthy, s.HealthCheck))];

    /// <summary>Starts (or replaces) a server.</summary>
    /// <exception cref="SandboxdException">Conflict: a strict port is taken.</exception>
    public async Task<ManagedServer> StartAsync(SandboxContext sandbox, ServerConfig config, CancellationToken cancellationToken)
    {
        if (config.StrictPort && config.RequestedPort is { } strictPort && !PortAllocator.IsFree(strictPort))
        {
            throw SandboxdException.Conflict($"Port {strictPort} is already in use and strict_port is set.");
        }

        var registry = Registry(sandbox);
        while (true)
        {
            if (registry.TryGetValue(config.Slug, out var existing))
            {
                await existing.Operations.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (existing.Removed)
                    {
                        continue; // deleted while we waited: start a new one
                    }

                    await StopCoreAsync(existing, persist: false).ConfigureAwait(false);
                    existing.Configure(config);
                    existing.ResetRestarts();
                    Launch(existing);
                }
                finally
                {
                    existing.Operations.Release();
                }

                await PersistAsync(cancellationToken).ConfigureAwait(false);
                return existing;
            }

            var server = new ManagedServer(sandbox, config, _time);
            await server.Operations.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!registry.TryAdd(config.Slug, server))
                {
                    continue; // a concurrent start of the same slug won: start that one over
                }

                _all[server] = 0;
                Launch(server);
            }
            finally
            {
                server.Operations.Release();
            }

            await PersistAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
    }

    private void Launch(ManagedServer server)
    {
        server.SetStatus(server.Config.Install is null ? ServerStatus.Starting : ServerStatus.Installing);
        var cts = new CancellationTokenSource();
        server.Cancel = cts;
        server.Supervision = SuperviseAsync(server, cts.Token);
    }

    public async Task StopAsync(ManagedServer server)
    {
        await server.Operations.WaitAsync().ConfigureAwait(false);
        try
        {
            if (server.Removed)
            {
                return; // its delete stopped it
            }

            await StopCoreAsync(server, persist: true).ConfigureAwait(false);
        }
        finally
        {
            server.Operations.Release();
        }
    }

    /// <remarks>The caller holds <see cref="ManagedServer.Operations"/>.</remarks>
    private async Task StopCoreAsync(ManagedServer server, bool persist)
    {
        if (server.Cancel is { } cts)
        {
            await cts.CancelAsync().ConfigureAwait(false);
        }

        await server.Supervision.ConfigureAwait(false);
        server.Cancel?.Dispose();
        server.Cancel = null;
        if (!_shuttingDown)
        {
            server.SetStatus(ServerStatus.Stopped);
        }

        if (persist)
        {
            await PersistAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <returns>The server, or null when it was deleted before its restart could begin.</returns>
    public async Task<ManagedServer?> RestartAsync(ManagedServer server)
    {
        await server.Operations.WaitAsync().ConfigureAwait(false);
        try
        {
            if (server.Removed)
            {
                return null;
            }

            await StopCoreAsync(server, persist: false).ConfigureAwait(false);
            Launch(server);
        }
        finally
        {
            server.Operations.Release();
        }

        await PersistAsync(CancellationToken.None).ConfigureAwait(false);
        return server;
    }

    /// <summary>Marks a server removed and stops it, once its other operations are done.</summary>
    private async Task RemoveAsync(ManagedServer server)
    {
        _all.TryRemove(server, out _);
        await server.Operations.WaitAsync().ConfigureAwait(false);
        try
        {
            server.Removed = true;
            await StopCoreAsync(server, persist: false).ConfigureAwait(false);
        }
        finally
        {
            server.Operations.Release();
        }
    }

    public async Task<bool> DeleteAsync(SandboxContext sandbox, string slug)
    {
        if (!Registry(sandbox).TryRemove(slug, out var server))
        {
            return false;
        }

        await RemoveAsync(server).ConfigureAwait(false);
        await PersistAsync(CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    /// <summary>Stops every server of a sandbox (child sandbox destroyed).</summary>
    public async Task StopAllAsync(SandboxContext sandbox)
    {
        var registry = Registry(sandbox);
        foreach (var (slug, server) in registry)
        {
            registry.TryRemove(new KeyValuePair<string, ManagedServer>(slug, server));
            await RemoveAsync(server).ConfigureAwait(false);
        }

        await PersistAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async Task StartAsync(CancellationToken cancellationToken) => await RestoreAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Agent shutdown: stop servers gracefully (their own stop timeouts) but remember they were running.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await PersistAsync(CancellationToken.None).ConfigureAwait(false);
        _shuttingDown = true;
        await Task.WhenAll(_all.Keys.Select(async s =>
        {
            await s.Operations.WaitAsync().ConfigureAwait(false);
            try
            {
                await StopCoreAsync(s, persist: false).ConfigureAwait(false);
            }
            finally
            {
                s.Operations.Release();
            }
        })).ConfigureAwait(false);
    }

    public void Dispose() => _persistGate.Dispose();
}
