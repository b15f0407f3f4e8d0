using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace Sandboxd.Client.Live;

internal sealed partial class LiveSocket
{
    private const int MaxMessageBytes = 16 * 1024 * 1024;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);
    private static readonly JsonElement EmptyData = JsonDocument.Parse("{}").RootElement;

    /// <summary>A frame taken from the queue whose send failed: it goes out first on the next connection.
    /// Only the connection task touches it.</summary>
    private OutgoingFrame? _unsent;

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var time = options.TimeProvider;
        var attempt = 0;
        long? failingSince = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Task? hold;
                lock (_gate)
                {
                    if (_isDisposed)
                    {
                        return;
                    }

                    hold = _hold?.Task;
                }

                if (hold is not null)
                {
                    await hold.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var socket = new ClientWebSocket();
                socket.Options.KeepAliveInterval = options.KeepAliveInterval;
                socket.Options.KeepAliveTimeout = options.KeepAliveTimeout; // a silently dead connection is noticed and replaced
                socket.Options.CollectHttpResponseDetails = true;
                try
                {
                    using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    connectTimeout.CancelAfter(ConnectTimeout);
                    await socket.ConnectAsync(Url, connectTimeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException or OperationCanceledException)
                {
                    var status = socket.HttpStatusCode;
                    socket.Dispose();
                    if (cancellationToken.IsCancellationRequested)
                    {
                        return; // disposed while connecting
                    }

                    if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
                    {
                        GiveUp(new SandboxdException(
                            $"The agent refused the WebSocket at {Redacted} with {(int)status} {status}; check the URL and the token.", status, null, e));
                        return;
                    }

                    failingSince ??= time.GetTimestamp();
                    if (time.GetElapsedTime(failingSince.Value) >= options.ReconnectGiveUpAfter)
                    {
                        GiveUp(new SandboxdException(
                            $"Lost the WebSocket to {Redacted} and could not reconnect within {options.ReconnectGiveUpAfter.TotalSeconds:0.#} s: {e.Message}",
                            null, null, e));
                        return;
                    }

                    await Task.Delay(Backoff(attempt++), time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                attempt = 0;
                failingSince = null;
                await RunConnectedAsync(socket, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // disposed
        }
        catch (Exception e)
        {
            // An unexpected failure: end every stream with it rather than leave consumers waiting forever.
            GiveUp(new SandboxdException($"The WebSocket to {Redacted} failed unexpectedly: {e.Message}", e));
        }
    }

    /// <summary>The URL without its token, for messages.</summary>
    private string Redacted => Url.GetLeftPart(UriPartial.Path);

    private TimeSpan Backoff(int attempt)
    {
        var initial = options.ReconnectInitialDelay.TotalMilliseconds;
        var max = options.ReconnectMaxDelay.TotalMilliseconds;
        var exponential = Math.Min(max, initial * Math.Pow(2, Math.Min(attempt, 30)));
        var jittered = exponential * (0.5 + Random.Shared.NextDouble()); // ±50 %: clients that lost the same agent spread out
        return TimeSpan.FromMilliseconds(Math.Clamp(jittered, 1, max));
    }

    private void GiveUp(Exception error)
    {
        LiveSubscription[] subscriptions;
        lock (_gate)
        {
            _running = false;
            subscriptions = [.. _subscriptions.Values];
            _subscriptions.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Fail(error);
        }

        _unsent?.Sent?.TrySetException(error);
        _unsent = null;
        FailQueuedFrames(error);
    }

    private async Task RunConnectedAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        LiveSubscription[] subscriptions;
        lock (_gate)
        {
            _socket = socket;
            subscriptions = [.. _subscriptions.Values];
        }

        Interlocked.Increment(ref _connectCount);
        try
        {
            // Resubscribe first (with resume offsets), then whatever was in flight when the last socket dropped.
            foreach (var subscription in subscriptions)
            {
                var frame = ClientFrames.Subscribe(subscription.Channel, subscription.ResumeData());
                await socket.SendAsync(frame.Payload, frame.Kind, true, linked.Token).ConfigureAwait(false);
            }

            if (_unsent is { } unsent)
            {
                await socket.SendAsync(unsent.Payload, unsent.Kind, true, linked.Token).ConfigureAwait(false);
                _unsent = null;
                unsent.Sent?.TrySetResult();
            }

            lock (_gate)
            {
                _connected.TrySetResult();
            }

            var receive = ReceiveLoopAsync(socket, linked.Token);
            var send = SendLoopAsync(socket, linked.Token);
            var first = await Task.WhenAny(receive, send).ConfigureAwait(false);
            if (first == send && send.IsCompletedSuccessfully)
            {
                // The queue was completed (disposal) and our close frame is out: give the agent a moment to close back.
                await Task.WhenAny(receive, Task.Delay(CloseTimeout, options.TimeProvider, cancellationToken)).ConfigureAwait(false);
            }

            await linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(Observe(receive), Observe(send)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException)
        {
            // the socket dropped while resubscribing: connect again
        }
        finally
        {
            lock (_gate)
            {
                _socket = null;
                if (_connected.Task.IsCompleted)
                {
                    _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            socket.Abort();
            socket.Dispose();
        }
    }

    private static async Task Observe(Task loop)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // a dropped connection ends the loops this way; the connection task reconnects
        }
    }

    private async Task ReceiveLoopAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        while (true)
        {
            buffer.ResetWrittenCount();
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.GetMemory(16 * 1024), cancellationToken).ConfigureAwait(false);
                buffer.Advance(result.Count);
                if (buffer.WrittenCount > MaxMessageBytes)
                {
                    throw new WebSocketException(WebSocketError.Faulted, $"A message from the agent exceeded {MaxMessageBytes} bytes.");
                }
            }
            while (!result.EndOfMessage);

            switch (result.MessageType)
            {
                case WebSocketMessageType.Close:
                    return;
                case WebSocketMessageType.Text:
                    await DispatchAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    break; // binary frames only exist on protocol=binary sockets with --ws-binary-out; ours is json
            }
        }
    }

    private async Task DispatchAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message);
        }
        catch (JsonException)
        {
            return; // not JSON: nothing any listener could use
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("channel", out var channelElement) || channelElement.ValueKind != JsonValueKind.String)
            {
                return; // broadcasts without a channel (sandbox.created/deleted) have no listener here
            }

            LiveSubscription? subscription;
            lock (_gate)
            {
                _subscriptions.TryGetValue(channelElement.GetString()!, out subscription);
            }

            if (subscription is null)
            {
                return; // e.g. terminal:created of another client's terminal, or a late message after unsubscribe
            }

            var type = typeElement.GetString()!;
            var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : EmptyData;
            try
            {
                await subscription.OnMessageAsync(type, data, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                Forget(subscription);
                subscription.Fail(new SandboxdException(
                    $"The agent sent a {type} message on {subscription.Channel} that does not match the protocol; the stream was stopped.", e));
            }
        }
    }

    private async Task SendLoopAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var reader = _outbound.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var frame))
            {
                _unsent = frame;
                await socket.SendAsync(frame.Payload, frame.Kind, true, cancellationToken).ConfigureAwait(false);
                _unsent = null;
                frame.Sent?.TrySetResult();
            }
        }

        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client closed", cancellationToken).ConfigureAwait(false);
    }
}
