using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Sandboxd.Core;

namespace Sandboxd.Hosting;

/// <summary>
/// Bounds what clients without a credential can hold (docs/security.md, "Connections"). A connection counts as
/// unauthenticated until one of its requests carries a valid token (with <c>--insecure-no-auth</c>, every request
/// does). At most <see cref="AgentOptions.MaxUnauthenticatedConnections"/> such connections are open at once
/// (more are closed on accept), and one that is idle — no request in flight — for
/// <see cref="AgentOptions.UnauthenticatedIdle"/> is closed; Kestrel's 10-minute keep-alive is for clients that
/// authenticated. A WebSocket or a long request in flight is never cut by this: it is not idle.
/// </summary>
internal sealed class ConnectionGate(TimeProvider time, AgentOptions options)
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, Activity> _connections = new(StringComparer.Ordinal);
    private int _unauthenticated;

    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => OnConnectionAsync(connection, next);

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (Interlocked.Increment(ref _unauthenticated) > options.MaxUnauthenticatedConnections)
        {
            Interlocked.Decrement(ref _unauthenticated);
            connection.Abort(new ConnectionAbortedException("too many unauthenticated connections"));
            return;
        }

        var activity = new Activity(this, time);
        _connections[connection.ConnectionId] = activity;
        using var check = time.CreateTimer(static state =>
        {
            var (activity, connection, idle) = ((Activity, ConnectionContext, TimeSpan))state!;
            if (activity.IdleUnauthenticatedFor() >= idle)
            {
                connection.Abort(new ConnectionAbortedException("idle without authenticating"));
            }
        }, (activity, connection, options.UnauthenticatedIdle), CheckEvery, CheckEvery);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection.ConnectionId, out _);
            activity.Closed();
        }
    }

    /// <summary>The activity of the connection with this id (HttpContext.Connection.Id), or null.</summary>
    public Activity? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    /// <summary>One connection's requests in flight, when it last went idle, and whether it has authenticated.</summary>
    internal sealed class Activity(ConnectionGate gate, TimeProvider time)
    {
        private readonly Lock _lock = new();
        /// <remarks>Guarded by <see cref="_lock"/>.</remarks>
        private int _inFlight;
        /// <remarks>Guarded by <see cref="_lock"/>.</remarks>
        private long _idleSince = time.GetTimestamp();
        /// <remarks>Guarded by <see cref="_lock"/>.</remarks>
        private bool _counted = true;

        public void RequestStarted()
        {
            lock (_lock)
            {
                _inFlight++;
            }
        }

        public void RequestEnded()
        {
            lock (_lock)
            {
                _inFlight--;
                _idleSince = time.GetTimestamp();
            }
        }

        /// <summary>A request on this connection carried a valid credential: it is no longer counted or timed.</summary>
        public void Authenticated() => Closed();

        /// <summary>How long the connection has been idle, or zero while a request runs or once it authenticated.</summary>
        public TimeSpan IdleUnauthenticatedFor()
        {
            lock (_lock)
            {
                return !_counted || _inFlight > 0 ? TimeSpan.Zero : time.GetElapsedTime(_idleSince);
            }
        }

        public void Closed()
        {
            lock (_lock)
            {
                if (!_counted)
                {
                    return;
                }

                _counted = false;
            }

            Interlocked.Decrement(ref gate._unauthenticated);
        }
    }
}
