using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Sandboxd.Core;

namespace Sandboxd.Live;

/// <summary>
/// One WebSocket: exactly one receive loop (frames handled strictly in order) and one send loop draining a bounded
/// queue. Discrete messages that do not fit are never awaited: the connection is dropped instead. Stream pumps (PTY
/// and command output) wait for room, which only slows this socket's own pump, never a child or another client.
/// </summary>
internal sealed class LiveConnection(WebSocket socket, SandboxContext sandbox, AuthPrincipal? principal, bool binaryProtocol, bool binaryOut)
    : IDisposable
{
    public const int MessageQueueCapacity = 1024;
    public const int StreamQueueCapacity = 64;
    private const int MaxInboundBytes = 4 * 1024 * 1024;

    // Two queues: discrete messages (never awaited: full ⇒ the client is not reading ⇒ drop it) and stream chunks
    // (pumps wait for room, ≤ 64 × 32 KiB in flight per socket). Pumps therefore never starve discrete messages.
    private readonly Channel<LiveMessage> _messages = Channel.CreateBounded<LiveMessage>(
        new BoundedChannelOptions(MessageQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<LiveMessage> _stream = Channel.CreateBounded<LiveMessage>(
        new BoundedChannelOptions(StreamQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _closed = new();
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>: channel → the cancellation of its pump (or of nothing, for message channels).</remarks>
    private readonly Dictionary<string, CancellationTokenSource> _subscriptions = new(StringComparer.Ordinal);

    public long Id { get; } = Interlocked.Increment(ref s_nextId);
    private static long s_nextId;

    public SandboxContext Sandbox { get; } = sandbox;
    public AuthPrincipal? Principal { get; } = principal;
    public CancellationToken Closed => _closed.Token;

    /// <summary>Queues a discrete message; a full queue means the client is not reading: drop it.</summary>
    public void Send(LiveMessage message)
    {
        if (!_messages.Writer.TryWrite(message))
        {
            Abort("send queue full");
        }
    }

    /// <summary>Queues a stream message, waiting for room (per-subscription back-pressure).</summary>
    public ValueTask SendAsync(LiveMessage message, CancellationToken cancellationToken) => _stream.Writer.WriteAsync(message, cancellationToken);

    public string? CloseReason { get; private set; }

    public void Abort(string reason)
    {
        CloseReason ??= reason;
        _messages.Writer.TryComplete();
        _stream.Writer.TryComplete();
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already torn down: a hub sweep (revocation, sandbox deletion) or a broadcaster holding this connection
            // from a snapshot can reach it after its socket loop has ended and disposed it; there is nothing left to stop.
        }
    }

    public bool TryAddSubscription(string channel, out CancellationToken pumpToken)
    {
        lock (_gate)
        {
            if (_subscriptions.ContainsKey(channel))
            {
                pumpToken = default;
                return false;
            }

            var cts = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
            _subscriptions[channel] = cts;
            pumpToken = cts.Token;
            return true;
        }
    }

    public bool RemoveSubscription(string channel)
    {
        CancellationTokenSource? cts;
        lock (_gate)
        {
            if (!_subscriptions.Remove(channel, out cts))
            {
                return false;
            }
        }

        cts.Cancel();
        cts.Dispose();
        return true;
    }

    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly List<Task> _pumps = [];

    public void TrackPump(Task pump)
    {
        lock (_gate)
        {
            _pumps.RemoveAll(p => p.IsCompleted);
            _pumps.Add(pump);
        }
    }

    /// <summary>Waits for every pump of this socket to end (they end when the socket closes).</summary>
    public Task PumpsCompletedAsync()
    {
        lock (_gate)
        {
            return Task.WhenAll(_pumps);
        }
    }

    public string[] Subscriptions
    {
        get
        {
            lock (_gate)
            {
                return [.. _subscriptions.Keys];
            }
        }
    }

    public async Task RunAsync(Func<LiveConnection, InboundMessage, ValueTask> onMessage, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        var send = SendLoopAsync(linked.Token);
        try
        {
            await ReceiveLoopAsync(onMessage, linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // peer vanished, agent stopping, or connection dropped
        }
        finally
        {
            Abort(CloseReason ?? "closed");
        }

        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // nothing more to deliver to a gone peer
        }

        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, CloseReason, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                // best effort
            }
        }
    }

    private async Task ReceiveLoopAsync(Func<LiveConnection, InboundMessage, ValueTask> onMessage, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length)
                    {
                        if (buffer.Length >= MaxInboundBytes)
                        {
                            Abort("message too large");
                            return;
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    result = await socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken).ConfigureAwait(false);
                    count += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseReason ??= "client closed";
                    return;
                }

                var message = result.MessageType == WebSocketMessageType.Binary
                    ? BinaryFrames.Decode(buffer.AsSpan(0, count))
                    : DecodeJson(buffer.AsSpan(0, count));
                if (message is not null)
                {
                    await onMessage(this, message).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static InboundMessage? DecodeJson(ReadOnlySpan<byte> text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            var channel = root.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
            var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object
                ? System.Text.Encoding.UTF8.GetBytes(d.GetRawText())
                : null;
            return new InboundMessage(type.GetString()!, channel, data);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // Not JSON, or JSON whose strings are not text (an escaped lone surrogate) or whose numbers are not finite:
            // ignore the frame, as the client does with ours. Letting it through would end the whole socket.
            return null;
        }
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        var messages = _messages.Reader;
        var stream = _stream.Reader;
        while (true)
        {
            if (messages.TryRead(out var message) || stream.TryRead(out message))
            {
                if (binaryOut && binaryProtocol && message.BinaryCapable)
                {
                    await socket.SendAsync(BinaryFrames.Encode(message), WebSocketMessageType.Binary, true, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await socket.SendAsync(message.Json, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
                }

                message.Sent?.Invoke();
                continue;
            }

            var either = await Task.WhenAny(messages.WaitToReadAsync(cancellationToken).AsTask(), stream.WaitToReadAsync(cancellationToken).AsTask()).ConfigureAwait(false);
            if (!await either.ConfigureAwait(false) && messages.Completion.IsCompleted && stream.Completion.IsCompleted)
            {
                return;
            }
        }
    }

    public void Dispose() => _closed.Dispose();
}
