using System.Collections.Concurrent;
using System.Security.Cryptography;
using Sandboxd.Client.Gateway;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>The gateway the Gateway* test classes share: two API keys (A and B), and a record of every sandbox the tests
/// created with the pid of its agent. Disposal destroys each one still there, checks that every agent is gone, then stops
/// the gateway (which checks that nothing it started is left).</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    private static readonly TimeSpan AgentStopTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (GatewayClient Owner, int? Pid)> _created = new();

    public GatewayProcess Gateway { get; private set; } = null!;
    public string KeyA { get; } = "client-test-a-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    public string KeyB { get; } = "client-test-b-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    public GatewayClient ClientA { get; private set; } = null!;
    public GatewayClient ClientB { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Gateway = await GatewayProcess.StartAsync([KeyA, KeyB], CancellationToken.None);
        ClientA = Gateway.Client(KeyA);
        ClientB = Gateway.Client(KeyB);
    }

    public static string Unique(string prefix) => prefix + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>Records a sandbox (and the pid of the agent listening on its URL) so disposal can destroy and check it.</summary>
    public GatewaySandbox Track(GatewayClient owner, GatewaySandbox sandbox)
    {
        _created.TryAdd(sandbox.Id, (owner, ListeningProcess.FindPid(sandbox.Client.BaseUrl.Port)));
        return sandbox;
    }

    /// <summary>The pid recorded for a tracked sandbox's agent.</summary>
    public int AgentPid(GatewaySandbox sandbox) =>
        _created.TryGetValue(sandbox.Id, out var entry) && entry.Pid is { } pid
            ? pid
            : throw new InvalidOperationException($"No process listens on {sandbox.Client.BaseUrl} (sandbox {sandbox.Id}).");

    public async Task<GatewaySandbox> CreateAsync(GatewayClient owner, CreateGatewaySandboxRequest? options, CancellationToken cancellationToken) =>
        Track(owner, await owner.CreateAsync(options, cancellationToken));

    public async ValueTask DisposeAsync()
    {
        var problems = new List<string>();
        foreach (var (id, (owner, pid)) in _created)
        {
            try
            {
                await owner.DestroyAsync(id, CancellationToken.None);
            }
            catch (SandboxdException e)
            {
                problems.Add($"destroying {id}: {e.Message}");
            }

            if (pid is { } alive && !await WaitForExitAsync(alive))
            {
                problems.Add($"the agent of {id} (pid {alive}) still runs {AgentStopTimeout.TotalSeconds} s after destroy; killed");
                await Posix.SignalAsync(alive, "KILL");
            }
        }

        ClientA?.Dispose();
        ClientB?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Gateway tests left sandboxes behind:\n" + string.Join('\n', problems));
        }
    }

    private static async Task<bool> WaitForExitAsync(int pid)
    {
        var deadline = DateTime.UtcNow + AgentStopTimeout;
        while (ListeningProcess.IsAlive(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "Gateway";
}
