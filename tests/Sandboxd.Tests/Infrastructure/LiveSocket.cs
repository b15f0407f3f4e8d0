using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>One frame received from the agent: a JSON text frame (parsed) or a binary frame (raw bytes).</summary>
public sealed class LiveFrame(bool binary, byte[] bytes)
{
    private JsonElement? _json;

    public bool Binary { get; } = binary;
    public byte[] Bytes { get; } = bytes;
    public string Text => Encoding.UTF8.GetString(Bytes);

    /// <summary>The parsed JSON of a text frame (default when binary or not JSON).</summary>
    public JsonElement Json
    {
        get
        {
            if (_json is null)
            {
                try
                {
                    using var doc = JsonDocument.Parse(Bytes);
                    _json = doc.RootElement.Clone();
                }
                catch (JsonException)
                {
                    _json = default(JsonElement);
                }
            }

            return _json.Value;
        }
    }

    public string? Type => Binary ? TryDecode()?.Type : Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("type", out var t) ? t.GetString() : null;
    public string? Channel => Binary ? TryDecode()?.Channel : Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("channel", out var c) ? c.GetString() : null;
    public JsonElement Data => Json.GetProperty("data");

    public string? Str(string key) => !Binary && Data.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    public long? Num(string key) => !Binary && Data.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    public bool Is(string type, string? channel = null) => Type == type && (channel is null || Channel == channel);

    private DecodedFrame? TryDecode()
    {
        try
        {
            return WireFrames.Decode(Bytes);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    public override string ToString() => Binary ? "bin:" + Convert.ToHexString(Bytes) : Text;
}

/// <summary>
/// A real <see cref="ClientWebSocket"/> to <c>/ws?token=…&amp;protocol=…</c>. A background loop records every frame;
/// tests wait for frames with deadlines. With <c>read:false</c> nothing is ever read (a stalled consumer).
/// </summary>
public sealed class LiveSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly List<LiveFrame> _frames = [];
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _reader;

    private LiveSocket(ClientWebSocket socket) => _socket = socket;

    public WebSocketState State => _socket.State;

    /// <summary>True once the agent closed the socket (or the connection broke).</summary>
    public bool Closed { get; private set; }

    public static Uri Url(AgentProcess agent, string protocol, string? token)
    {
        var query = token is null ? $"protocol={protocol}" : $"token={Uri.EscapeDataString(token)}&protocol={protocol}";
        return new Uri($"ws://{agent.BaseUrl.Authority}/ws?{query}");
    }

    public static async Task<LiveSocket> ConnectAsync(AgentProcess agent, CancellationToken cancellationToken, string protocol = "json", bool read = true)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(Url(agent, protocol, agent.Token), timeout.Token);
        var live = new LiveSocket(socket);
        if (read)
        {
            live._reader = Task.Run(live.ReadLoopAsync, CancellationToken.None);
        }

        return live;
    }

    public IReadOnlyList<LiveFrame> Frames
    {
        get
        {
            lock (_gate)
            {
                return [.. _frames];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _frames.Count;
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                Add(new LiveFrame(result.MessageType == WebSocketMessageType.Binary, message.ToArray()));
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // closed
        }
        finally
        {
            Closed = true;
            Pulse();
        }
    }

    private void Add(LiveFrame frame)
    {
        lock (_gate)
        {
            _frames.Add(frame);
        }

        Pulse();
    }

    private void Pulse()
    {
        TaskCompletionSource previous;
        lock (_gate)
        {
            previous = _arrived;
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    /// <summary>Waits for the first frame at index ≥ <paramref name="from"/> matching <paramref name="match"/>; returns its index.</summary>
    public async Task<int> WaitIndexAsync(Func<LiveFrame, bool> match, TimeSpan timeout, string what, CancellationToken cancellationToken, int from = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task arrived;
            lock (_gate)
            {
                for (var i = from; i < _frames.Count; i++)
                {
                    if (match(_frames[i]))
                    {
                        return i;
                    }
                }

                arrived = _arrived.Task;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || (Closed && _reader is { IsCompleted: true }))
            {
                var frames = Frames;
                var tail = string.Join("\n", frames.Skip(Math.Max(0, frames.Count - 15)).Select(f => f.ToString().Length > 300 ? f.ToString()[..300] + "…" : f.ToString()));
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what} (socket closed: {Closed}, {frames.Count} frames; last:\n{tail})");
            }

            await Task.WhenAny(arrived, Task.Delay(left, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public async Task<LiveFrame> WaitForAsync(Func<LiveFrame, bool> match, TimeSpan timeout, string what, CancellationToken cancellationToken, int from = 0)
    {
        var index = await WaitIndexAsync(match, timeout, what, cancellationToken, from);
        return Frames[index];
    }

    public Task<LiveFrame> WaitForAsync(string type, string? channel, TimeSpan timeout, CancellationToken cancellationToken, int from = 0) =>
        WaitForAsync(f => f.Is(type, channel), timeout, $"{type} on {channel ?? "any channel"}", cancellationToken, from);

    public async Task SendTextAsync(string json, CancellationToken cancellationToken)
    {
        await _sendGate.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, cancellationToken);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    public async Task SendBinaryAsync(byte[] frame, CancellationToken cancellationToken)
    {
        await _sendGate.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Binary, true, cancellationToken);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    public Task SubscribeAsync(string channel, CancellationToken cancellationToken, string? dataJson = null) =>
        SendTextAsync("{\"type\":\"subscribe\",\"channel\":" + JsonSerializer.Serialize(channel) + ",\"data\":" + (dataJson ?? "{}") + "}", cancellationToken);

    public Task UnsubscribeAsync(string channel, CancellationToken cancellationToken) =>
        SendTextAsync("{\"type\":\"unsubscribe\",\"channel\":" + JsonSerializer.Serialize(channel) + ",\"data\":{}}", cancellationToken);

    public Task StartCommandAsync(string cmdId, CancellationToken cancellationToken) =>
        SendTextAsync("{\"type\":\"command:start\",\"channel\":\"\",\"data\":{\"cmd_id\":" + JsonSerializer.Serialize(cmdId) + "}}", cancellationToken);

    public Task InputAsync(string terminalId, string input, CancellationToken cancellationToken) =>
        SendTextAsync("{\"type\":\"terminal:input\",\"data\":{\"terminal_id\":" + JsonSerializer.Serialize(terminalId) + ",\"input\":" + JsonSerializer.Serialize(input) + "}}", cancellationToken);

    /// <summary>Concatenated <c>output</c> of the JSON frames of <paramref name="type"/> on <paramref name="channel"/>.</summary>
    public string Output(string type, string channel, int from = 0) =>
        string.Concat(Frames.Skip(from).Where(f => !f.Binary && f.Is(type, channel)).Select(f => f.Str("output")));

    /// <summary>Waits until the concatenated output of a channel satisfies <paramref name="done"/>.</summary>
    public async Task<string> WaitOutputAsync(string type, string channel, Func<string, bool> done, TimeSpan timeout, string what, CancellationToken cancellationToken, int from = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var text = Output(type, channel, from);
            if (done(text))
            {
                return text;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; output so far ({text.Length} chars): '{(text.Length > 2000 ? text[^2000..] : text)}'");
            }

            Task arrived;
            lock (_gate)
            {
                arrived = _arrived.Task;
            }

            if (Output(type, channel, from) != text)
            {
                continue;
            }

            await Task.WhenAny(arrived, Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200, left.TotalMilliseconds)), cancellationToken));
        }
    }

    /// <summary>Closes our side and keeps reading until the agent's close frame, so every frame it sent is recorded.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        if (_socket.State == WebSocketState.Open)
        {
            await _sendGate.WaitAsync(timeout.Token);
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            finally
            {
                _sendGate.Release();
            }
        }

        if (_reader is not null)
        {
            await _reader.WaitAsync(timeout.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket.Abort();
        if (_reader is not null)
        {
            await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        _socket.Dispose();
        _stop.Dispose();
        _sendGate.Dispose();
    }
}
