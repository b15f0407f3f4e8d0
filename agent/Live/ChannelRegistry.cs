namespace Sandboxd.Live;

/// <summary>
/// The channels of one sandbox: who is subscribed, the stream source behind a channel (if any), and the backlog of
/// discrete messages published while nobody listened (≤ 1000 messages / 1 MiB, none older than 10 s), flushed to
/// the next subscriber — so events produced between an HTTP create and the WS subscribe are not lost.
/// </summary>
/// <param name="time">The clock of the backlog's age limit (<see cref="TimeProvider.System"/> unless a test passes one).</param>
internal sealed class ChannelRegistry(TimeProvider? time = null)
{
    public const int BacklogMessages = 1000;
    public const long BacklogBytes = 1024 * 1024;
    public static readonly TimeSpan BacklogAge = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    /// <remarks>All guarded by <see cref="_gate"/>.</remarks>
    private readonly Dictionary<string, HashSet<LiveConnection>> _subscribers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<(DateTime At, LiveMessage Message)>> _backlog = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _backlogBytes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StreamSource> _sources = new(StringComparer.Ordinal);
    private readonly HashSet<LiveConnection> _connections = [];
    /// <remarks>Guarded by <see cref="_gate"/>: when the backlogs of every channel are next swept for expired entries.</remarks>
    private DateTime _nextSweep;

    /// <summary>The channels holding a backlog (for tests: a channel nobody will ever subscribe to must not stay).</summary>
    public int BacklogChannelCount
    {
        get
        {
            lock (_gate)
            {
                return _backlog.Count;
            }
        }
    }

    public void AddConnection(LiveConnection connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
        }
    }

    public void RemoveConnection(LiveConnection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
            foreach (var channel in connection.Subscriptions)
            {
                RemoveSubscriberUnsynchronized(channel, connection);
            }
        }
    }

    public LiveConnection[] Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections];
            }
        }
    }

    public void SetSource(StreamSource source)
    {
        lock (_gate)
        {
            _sources[source.Channel] = source;
        }
    }

    public StreamSource? Source(string channel)
    {
        lock (_gate)
        {
            return _sources.GetValueOrDefault(channel);
        }
    }

    public void RemoveSource(string channel)
    {
        lock (_gate)
        {
            _sources.Remove(channel);
        }
    }

    /// <summary>Adds a subscriber; returns the stream source to pump from (if any) and the backlog to flush.</summary>
    public (StreamSource? Source, LiveMessage[] Backlog) Subscribe(string channel, LiveConnection connection)
    {
        lock (_gate)
        {
            if (!_subscribers.TryGetValue(channel, out var set))
            {
                _subscribers[channel] = set = [];
            }

            set.Add(connection);
            _sources.TryGetValue(channel, out var source);
            LiveMessage[] backlog = [];
            if (_backlog.Remove(channel, out var queue))
            {
                _backlogBytes.Remove(channel);
                var cutoff = _time.GetUtcNow().UtcDateTime - BacklogAge;
                backlog = [.. queue.Where(e => e.At >= cutoff).Select(e => e.Message)];
            }

            return (source, backlog);
        }
    }

    public void Unsubscribe(string channel, LiveConnection connection)
    {
        lock (_gate)
        {
            RemoveSubscriberUnsynchronized(channel, connection);
        }
    }

    private void RemoveSubscriberUnsynchronized(string channel, LiveConnection connection)
    {
        if (_subscribers.TryGetValue(channel, out var set) && set.Remove(connection) && set.Count == 0)
        {
            _subscribers.Remove(channel);
        }
    }

    public bool HasSubscribers(string channel)
    {
        lock (_gate)
        {
            return _subscribers.ContainsKey(channel);
        }
    }

    /// <summary>Sends to the channel's subscribers, or keeps the message in the channel's backlog if there are none.</summary>
    public void Publish(LiveMessage message)
    {
        var channel = message.Channel ?? "";
        LiveConnection[] targets;
        lock (_gate)
        {
            if (!_subscribers.TryGetValue(channel, out var set) || set.Count == 0)
            {
                AppendBacklogUnsynchronized(channel, message);
                return;
            }

            targets = [.. set];
        }

        foreach (var connection in targets)
        {
            connection.Send(message);
        }
    }

    private void AppendBacklogUnsynchronized(string channel, LiveMessage message)
    {
        if (!_backlog.TryGetValue(channel, out var queue))
        {
            _backlog[channel] = queue = new Queue<(DateTime, LiveMessage)>();
        }

        var now = _time.GetUtcNow().UtcDateTime;
        queue.Enqueue((now, message));
        var bytes = _backlogBytes.GetValueOrDefault(channel) + message.ApproximateSize;
        var cutoff = now - BacklogAge;
        while (queue.Count > 0 && (queue.Count > BacklogMessages || bytes > BacklogBytes || queue.Peek().At < cutoff))
        {
            bytes -= queue.Dequeue().Message.ApproximateSize;
        }

        _backlogBytes[channel] = bytes;
        if (now >= _nextSweep)
        {
            // A channel is trimmed above only when it is published to again: a watcher destroyed while nobody listened
            // (its watcher:created and watcher:destroyed) would otherwise keep its queue for the agent's lifetime.
            _nextSweep = now + BacklogAge;
            SweepUnsynchronized(cutoff);
        }
    }

    /// <summary>Drops every backlog entry older than <paramref name="cutoff"/>, and the channels left empty.</summary>
    private void SweepUnsynchronized(DateTime cutoff)
    {
        List<string>? empty = null;
        foreach (var (name, queue) in _backlog)
        {
            var bytes = _backlogBytes.GetValueOrDefault(name);
            while (queue.Count > 0 && queue.Peek().At < cutoff)
            {
                bytes -= queue.Dequeue().Message.ApproximateSize;
            }

            if (queue.Count == 0)
            {
                (empty ??= []).Add(name);
            }
            else
            {
                _backlogBytes[name] = bytes;
            }
        }

        foreach (var name in empty ?? [])
        {
            _backlog.Remove(name);
            _backlogBytes.Remove(name);
        }
    }

    /// <summary>Sends to every socket of the sandbox, subscribed or not.</summary>
    public void Broadcast(LiveMessage message)
    {
        foreach (var connection in Connections)
        {
            connection.Send(message);
        }
    }
}
