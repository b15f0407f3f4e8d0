using System.Net.WebSockets;
using System.Threading.Channels;

namespace Sandboxd.Client.Live;

/// <summary>
/// The client's one WebSocket (<c>/ws?token=…&amp;protocol=json</c>), shared by every terminal, command stream, watcher and
/// signal subscription of a <see cref="SandboxClient"/>. One connection task owns the socket: it connects (with
/// exponential backoff and jitter), resubscribes every channel with its resume offsets before anything else, then runs
/// exactly one receive loop and one send loop until the socket drops, and starts over. All outgoing frames go through
/// <see cref="_outbound"/>, so sends are serialized and survive a reconnect in order.
/// </summary>
internal sealed partial class LiveSocket(Uri url, SandboxClientOptions options) : IAsyncDisposable
{
    private readonly Channel<OutgoingFrame> _outbound = Channel.CreateBounded<OutgoingFrame>(
        new BoundedChannelOptions(1024) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _gate = new();

    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly Dictionary<string, LiveSubscription> _subscriptions = new(StringComparer.Ordinal);

    /// <remarks>Guarded by <see cref="_gate"/>: the connection task (completed when it gave up or was never started).</remarks>
    private Task _run = Task.CompletedTask;

    /// <remarks>Guarded by <see cref="_gate"/>: false once the connection task gave up (set in the same lock that fails the
    /// subscriptions, so a subscription added right after is never left without a connection task).</remarks>
    private bool _running;

    /// <remarks>Guarded by <see cref="_gate"/>: the socket while connected.</remarks>
    private ClientWebSocket? _socket;

    /// <remarks>Guarded by <see cref="_gate"/>: completed while connected, replaced on disconnect.</remarks>
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <remarks>Guarded by <see cref="_gate"/>: while set, no (re)connection is attempted (test hook).</remarks>
    private TaskCompletionSource? _hold;

    private int _connectCount;
    private bool _isDisposed;

    public Uri Url { get; } = url;

    /// <summary>How many times a connection was established (1 after the first connect; tests use it to see reconnects).</summary>
    internal int ConnectCount => Volatile.Read(ref _connectCount);

    /// <summary>Registers <paramref name="subscription"/> and sends its <c>subscribe</c>; it is resubscribed after every reconnect.</summary>
    public async Task SubscribeAsync(LiveSubscription subscription, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_isDisposed, this);
            if (!_subscriptions.TryAdd(subscription.Channel, subscription))
            {
                throw new InvalidOperationException($"This client already listens to {subscription.Channel}; dispose the other listener first.");
            }

            EnsureRunningUnsynchronized();
        }

        try
        {
            await _outbound.Writer.WriteAsync(ClientFrames.Subscribe(subscription.Channel, subscription.ResumeData()), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Forget(subscription);
            throw;
        }
    }

    /// <summary>Stops listening (locally at once; <c>unsubscribe</c> is sent when the socket is up).</summary>
    public void Unsubscribe(LiveSubscription subscription)
    {
        subscription.Complete();
        if (Forget(subscription))
        {
            // Best effort: when the queue is full the agent keeps sending for a while and those messages are dropped here.
            _outbound.Writer.TryWrite(ClientFrames.Unsubscribe(subscription.Channel));
        }
    }

    private bool Forget(LiveSubscription subscription)
    {
        lock (_gate)
        {
            return _subscriptions.TryGetValue(subscription.Channel, out var current) && current == subscription
                && _subscriptions.Remove(subscription.Channel);
        }
    }

    /// <summary>Queues a frame; with <see cref="OutgoingFrame.Sent"/> set, completes once the socket took it (after a reconnect if need be).</summary>
    public async Task SendAsync(OutgoingFrame frame, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_isDisposed, this);
            EnsureRunningUnsynchronized();
        }

        await _outbound.Writer.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        if (frame.Sent is { } sent)
        {
            await sent.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the connection task if it is not running (first use, or after it gave up).</summary>
    private void EnsureRunningUnsynchronized()
    {
        if (!_running)
        {
            _running = true;
            _run = Task.Run(() => RunAsync(_disposed.Token));
        }
    }

    /// <summary>Completes when connected (tests; the public API never needs to wait for the socket).</summary>
    internal Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            EnsureRunningUnsynchronized();
            return _connected.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Test hook: drops the current connection abruptly, as a network failure would.</summary>
    internal void DropConnection()
    {
        lock (_gate)
        {
            _socket?.Abort();
        }
    }

    /// <summary>Test hook: no (re)connection is attempted until the returned handle is disposed.</summary>
    internal IDisposable HoldReconnect()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _hold = hold;
        }

        return new Releaser(this, hold);
    }

    private sealed class Releaser(LiveSocket owner, TaskCompletionSource hold) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                if (owner._hold == hold)
                {
                    owner._hold = null;
                }
            }

            hold.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task run;
        bool connected;
        LiveSubscription[] subscriptions;
        lock (_gate)
        {
            if (_isDisposed)
            {
                return;
            }

            _isDisposed = true;
            run = _run;
            connected = _socket is not null;
            subscriptions = [.. _subscriptions.Values];
            _subscriptions.Clear();
            _hold?.TrySetResult();
        }

        // Completing the queue lets the send loop flush what is queued and send a close frame; a socket that does not
        // finish closing in time (or is not connected) is cut.
        _outbound.Writer.TryComplete();
        if (connected)
        {
            try
            {
                await run.WaitAsync(CloseTimeout + CloseTimeout, options.TimeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // cut below
            }
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        await run.ConfigureAwait(false);
        var disposed = new ObjectDisposedException(nameof(SandboxClient), "The SandboxClient was disposed.");
        foreach (var subscription in subscriptions)
        {
            subscription.Fail(disposed);
        }

        _unsent?.Sent?.TrySetException(disposed);
        FailQueuedFrames(disposed);
        _disposed.Dispose();
    }

    private void FailQueuedFrames(Exception error)
    {
        while (_outbound.Reader.TryRead(out var frame))
        {
            frame.Sent?.TrySetException(error);
        }
    }
}
