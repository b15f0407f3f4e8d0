using System.Diagnostics.CodeAnalysis;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Native;

namespace Sandboxd.Gateway.Docker;

/// <summary>One engine: its client, what it was told, and what the health checks found.</summary>
internal sealed class DockerEngine(DockerHostSpec spec) : IDisposable
{
    private readonly Lock _gate = new();

    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private int _failures;

    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private bool _up;

    public DockerHostSpec Spec { get; } = spec;
    public string Name => Spec.Name;
    public DockerEngineClient Client { get; } = new(spec);

    /// <summary>Bridge or host networking, learnt at the first successful check unless the spec says.</summary>
    public EngineNetwork Network { get; private set; } = spec.Network;
    public string? Version { get; private set; }

    /// <summary>What the last failed check said (null after a success).</summary>
    public string? LastError { get; set; }

    public bool IsUp
    {
        get { lock (_gate) { return _up; } }
    }

    /// <summary>Records one health check; returns the state change (true = came up, false = went down) or null.</summary>
    public bool? Record(bool ok, int failuresForDown)
    {
        lock (_gate)
        {
            if (ok)
            {
                _failures = 0;
                var cameUp = !_up;
                _up = true;
                return cameUp ? true : null;
            }

            _failures++;
            if (_up && _failures >= failuresForDown)
            {
                _up = false;
                return false;
            }

            return null;
        }
    }

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        await Client.PingAsync(cancellationToken);
        if (Version is null)
        {
            Version = (await Client.VersionAsync(cancellationToken)).Version;
            if (Network == EngineNetwork.Auto)
            {
                Network = await Client.HasBridgeAsync(cancellationToken) ? EngineNetwork.Bridge : EngineNetwork.Host;
            }
        }
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>
/// The engines the docker provider places sandboxes on, their health, and this gateway's id (the label that says a
/// container is this gateway's: <c>--gateway-id</c>, else one generated once and kept in the state dir).
/// </summary>
internal sealed class DockerEngines : IDisposable
{
    private readonly Dictionary<string, DockerEngine> _engines;

    public DockerEngines(GatewayOptions options)
    {
        Options = options.Docker;
        _engines = options.Docker.Hosts.ToDictionary(h => h.Name, h => new DockerEngine(h), StringComparer.Ordinal);
        GatewayId = options.GatewayId ?? LoadOrCreateId(options.StateDir);
    }

    public DockerOptions Options { get; }
    public string GatewayId { get; }
    public IReadOnlyCollection<DockerEngine> All => _engines.Values;

    public bool TryGet(string? name, [NotNullWhen(true)] out DockerEngine? engine)
    {
        engine = null;
        return name is not null && _engines.TryGetValue(name, out engine);
    }

    /// <summary>The engine holding <paramref name="name"/>, or 503 while it is down (its sandboxes are kept, not deleted).</summary>
    public DockerEngine Up(string? name)
    {
        if (!TryGet(name, out var engine))
        {
            throw new GatewayException(GatewayErrorCode.Unavailable, $"The Docker engine '{name}' is not configured on this gateway (--docker-host).");
        }

        return engine.IsUp
            ? engine
            : throw new GatewayException(GatewayErrorCode.Unavailable, $"The Docker engine '{name}' is down; its sandboxes are unavailable until it is back. Try again later.");
    }

    /// <summary>The healthy engine with the most free capacity (capacity minus its live records); ties go to the first named.</summary>
    public DockerEngine Place(IReadOnlyDictionary<string, int> used)
    {
        var best = _engines.Values
            .Where(e => e.IsUp)
            .Select(e => (Engine: e, Free: e.Spec.Capacity - used.GetValueOrDefault(e.Name)))
            .Where(c => c.Free > 0)
            .OrderByDescending(c => c.Free)
            .ThenBy(c => c.Engine.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Engine ?? throw new GatewayException(GatewayErrorCode.Unavailable, _engines.Values.Any(e => e.IsUp)
            ? "Every Docker engine is at capacity; destroy a sandbox or add an engine (--docker-host NAME=ENDPOINT,capacity=N)."
            : "No Docker engine is reachable; try again when one is back.");
    }

    private static string LoadOrCreateId(string stateDir)
    {
        var file = Path.Combine(stateDir, "gateway-id");
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } existing)
        {
            return existing;
        }

        var id = "gw_" + Convert.ToHexStringLower(LibC.RandomBytes(8));
        File.WriteAllText(file, id + "\n");
        return id;
    }

    public void Dispose()
    {
        foreach (var engine in _engines.Values)
        {
            engine.Dispose();
        }
    }
}
