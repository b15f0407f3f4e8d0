using System.Collections.Concurrent;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Live;

/// <summary>
/// The WebSocket side of the agent. Features publish to named channels of a sandbox (and register stream sources
/// and inbound message handlers); only this hub and <see cref="LiveConnection"/> touch sockets.
/// </summary>
internal sealed class LiveHub(ILogger<LiveHub> logger)
{
    private readonly ConcurrentDictionary<string, Func<LiveConnection, InboundMessage, ValueTask>> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, LiveConnection> _connections = new();

    public static ChannelRegistry Channels(SandboxContext sandbox) => sandbox.Feature(() => new ChannelRegistry());

    /// <summary>Registers the handler of an inbound message type (terminal:input, command:start…).</summary>
    public void On(string type, Func<LiveConnection, InboundMessage, ValueTask> handler) => _handlers[type] = handler;

    public void Publish(SandboxContext sandbox, LiveMessage message) => Channels(sandbox).Publish(message);

    public void Broadcast(SandboxContext sandbox, LiveMessage message) => Channels(sandbox).Broadcast(message);

    /// <summary>Sends to every socket of every sandbox (sandbox.created / sandbox.deleted).</summary>
    public void BroadcastAll(LiveMessage message)
    {
        foreach (var connection in _connections.Values)
        {
            connection.Send(message);
        }
    }

    public bool HasSubscribers(SandboxContext sandbox, string channel) => Channels(sandbox).HasSubscribers(channel);

    public void SetSource(SandboxContext sandbox, StreamSource source) => Channels(sandbox).SetSource(source);

    public void RemoveSource(SandboxContext sandbox, string channel) => Channels(sandbox).RemoveSource(channel);

    /// <summary>Waits (bounded) until every subscriber's pump of a stream channel has ended; see
    /// <see cref="StreamSource.WhenPumpsEndedAsync"/>.</summary>
    public Task WhenPumpsEndedAsync(SandboxContext sandbox, string channel, TimeSpan timeout) =>
        Channels(sandbox).Source(channel) is { } source ? source.WhenPumpsEndedAsync(timeout) : Task.CompletedTask;

    public int ConnectionCount => _connections.Count;

    /// <summary>Closes every socket authenticated with the given session token (revocation).</summary>
    public int CloseWhere(Func<LiveConnection, bool> predicate, string reason)
    {
        var closed = 0;
        foreach (var connection in _connections.Values)
        {
            if (predicate(connection))
            {
                connection.Abort(reason);
                closed++;
            }
        }

        return closed;
    }

    public async Task RunAsync(LiveConnection connection, CancellationToken cancellationToken)
    {
        var channels = Channels(connection.Sandbox);
        _connections[connection.Id] = connection;
        channels.AddConnection(connection);
        logger.Connected(connection.Id, connection.Sandbox.Subdomain);
        try
        {
            await connection.RunAsync(HandleAsync, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            channels.RemoveConnection(connection);
            _connections.TryRemove(connection.Id, out _);
            await connection.PumpsCompletedAsync().ConfigureAwait(false);
            logger.Disconnected(connection.Id, connection.CloseReason ?? "closed");
        }
    }

    private ValueTask HandleAsync(LiveConnection connection, InboundMessage message)
    {
        switch (message.Type)
        {
            case "subscribe":
                Subscribe(connection, message);
                return ValueTask.CompletedTask;
            case "unsubscribe":
                Channels(connection.Sandbox).Unsubscribe(message.Channel, connection);
                connection.RemoveSubscription(message.Channel);
                return ValueTask.CompletedTask;
            default:
                return _handlers.TryGetValue(message.Type, out var handler) ? handler(connection, message) : ValueTask.CompletedTask;
        }
    }

    private static void Subscribe(LiveConnection connection, InboundMessage message)
    {
        if (string.IsNullOrEmpty(message.Channel) || !connection.TryAddSubscription(message.Channel, out var pumpToken))
        {
            return; // duplicate subscriptions are accepted silently
        }

        var (source, backlog) = Channels(connection.Sandbox).Subscribe(message.Channel, connection);
        foreach (var queued in backlog)
        {
            connection.Send(queued);
        }

        if (source is not null)
        {
            // Offsets (sandboxd extension): {offset} for one stream, {stdout_offset, stderr_offset} for commands.
            var offsets = message.Read(LiveJsonContext.Default.SubscribeData);
            var requested = source.Streams.Count == 1
                ? new[] { ToOffset(offsets?.Offset) }
                : [ToOffset(offsets?.StdoutOffset), ToOffset(offsets?.StderrOffset)];
            connection.TrackPump(source.PumpAsync(connection, requested, pumpToken));
        }
    }

    private static long? ToOffset(long? value) => value is >= 0 ? value : null;
}
