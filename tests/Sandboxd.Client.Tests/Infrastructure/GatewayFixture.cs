using System.Collections.Concurrent;
using System.Security.Cryptography;
using Sandboxd.Client.Gateway;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>The gateway the Gateway* test classes share: two API keys (A and B), and a record of every sandbox the tests
/// created with the pids of its processes (those whose environment says <c>COMPUTESDK_SANDBOX_ID=&lt;id&gt;</c>, which
/// sandboxd-gateway gives every process of a sandbox, or else the one listening on the sandbox's port). Disposal
/// destroys each one still there, checks that all those processes are gone, then stops the gateway (which checks that
/// nothing it started is left).</summary>
public class GatewayFixture : IAsyncLifetime
{
    private static readonly TimeSpan AgentStopTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (GatewayClient Owner, IReadOnlyList<int> Pids)> _created = new();

    public GatewayProcess Gateway { get; private set; } = null!;
    public string KeyA { get; } = "client-test-a-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    public string KeyB { get; } = "client-test-b-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    public GatewayClient ClientA { get; private set; } = null!;
    public GatewayClient ClientB { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Gateway = await StartGatewayAsync([KeyA, KeyB]);
        ClientA = Gateway.Client(KeyA);
        ClientB = Gateway.Client(KeyB);
    }

    protected virtual Task<GatewayProcess> StartGatewayAsync(IReadOnlyList<string> apiKeys) => GatewayProcess.StartAsync(apiKeys, CancellationToken.None);

    public static string Unique(string prefix) => prefix + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>Records a sandbox and its processes so disposal can destroy and check it.</summary>
    public GatewaySandbox Track(GatewayClient owner, GatewaySandbox sandbox)
    {
        IReadOnlyList<int> pids = HostProcesses.WithEnvironment("COMPUTESDK_SANDBOX_ID", sandbox.Id);
        if (pids.Count == 0 && HostProcesses.FindPid(sandbox.Client.BaseUrl.Port) is { } listener && listener != Gateway.Pid)
        {
            pids = [listener];
        }

        if (pids.Count == 0)
        {
            throw new InvalidOperationException($"Found no process of sandbox {sandbox.Id} ({sandbox.Client.BaseUrl}).");
        }

        _created.TryAdd(sandbox.Id, (owner, pids));
        return sandbox;
    }

    /// <summary>Waits (bounded) until every recorded process of <paramref name="sandbox"/> has ended.</summary>
    public Task WaitUntilGoneAsync(GatewaySandbox sandbox, CancellationToken cancellationToken)
    {
        var pids = _created[sandbox.Id].Pids;
        return Eventually.UntilAsync(() => !pids.Any(HostProcesses.IsAlive), AgentStopTimeout,
            $"the processes of sandbox {sandbox.Id} ({string.Join(", ", pids)}) to end", cancellationToken);
    }

    public async Task<GatewaySandbox> CreateAsync(GatewayClient owner, CreateGatewaySandboxRequest? options, CancellationToken cancellationToken) =>
        Track(owner, await owner.CreateAsync(options, cancellationToken));

    public virtual async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        var problems = new List<string>();
        foreach (var (id, (owner, pids)) in _created)
        {
            try
            {
                await owner.DestroyAsync(id, CancellationToken.None);
            }
            catch (SandboxdException e)
            {
                problems.Add($"destroying {id}: {e.Message}");
            }

            foreach (var pid in pids)
            {
                if (!await WaitForExitAsync(pid))
                {
                    problems.Add($"process {pid} of {id} still runs {AgentStopTimeout.TotalSeconds} s after destroy; killed");
                    await Posix.SignalAsync(pid, "KILL");
                }
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
        while (HostProcesses.IsAlive(pid))
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
