using System.Runtime.CompilerServices;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>The sandbox's signals (<c>signal</c> on <c>signals</c>): port open/close, server-ready, errors.</summary>
public sealed class SignalListener : IAsyncDisposable
{
    private readonly SandboxClient _client;
    private readonly SignalSubscription _subscription;

    internal SignalListener(SandboxClient client, SignalStatusData status, SignalSubscription subscription)
    {
        _client = client;
        _subscription = subscription;
        Status = status;
    }

    /// <summary>The signal service status when listening started.</summary>
    public SignalStatusData Status { get; }

    /// <summary>The signals, in order, until this object is disposed.</summary>
    public async IAsyncEnumerable<SignalEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var signal in _subscription.Items.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return signal;
        }
    }

    /// <summary>Stops listening (the agent's signal service keeps running; see <see cref="SignalsClient.StopAsync"/>).</summary>
    public ValueTask DisposeAsync()
    {
        _client.Live.Unsubscribe(_subscription);
        return ValueTask.CompletedTask;
    }
}
