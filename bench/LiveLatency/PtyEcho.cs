using System.Net.WebSockets;
using System.Text;

namespace Sandboxd.Bench.Live;

/// <summary>
/// PTY keystroke → echo. A PTY terminal running /bin/sh (dash: no line editor, so the tty stays in canonical mode with
/// ECHO and the kernel's line discipline echoes each key by itself, without waking the shell). Per sample: one
/// printable key as <c>terminal:input</c> on a JSON /ws socket subscribed to the terminal, timed until the
/// <c>terminal:output</c> frame carrying its echo has been read. Floor: the same key written to the master of a PTY
/// pair opened here (slave open, default termios, no agent) and its echo read back — the kernel round trip. Detail:
/// <c>terminal:input</c> to a terminal that does not exist, timed until its <c>terminal:error</c> — the agent's /ws
/// in→out path without a PTY. The three are measured in interleaved blocks (rounds) so load drift hits all alike.
/// </summary>
internal sealed class PtyEcho : IDisposable
{
    /// <summary>Keys typed in turn. 'Z' is not among them: it marks the end of a line clear.</summary>
    private const string Keys = "abcdefghijklmnopqrstuvwxy";
    private const byte ClearMark = (byte)'Z';
    private const string NoTerminal = "term_bench_does_not_exist";
    private static readonly TimeSpan SampleTimeout = TimeSpan.FromSeconds(10);

    private readonly AgentApi _api;
    private readonly int _clearEvery;
    private string _terminalId = "";
    private string _channel = "";
    private FrameReader? _ws;
    private byte[][] _inputs = [];
    private byte[] _errorProbe = [];
    private int _master = -1;
    private int _slave = -1;
    private readonly byte[] _readBuffer = new byte[4096];
    private int _sinceClearOurs;
    private int _sinceClearFloor;

    public int ExtraOutputFrames { get; private set; }

    public int ShellPid { get; private set; }

    private PtyEcho(AgentApi api, int clearEvery)
    {
        _api = api;
        _clearEvery = Math.Max(1, clearEvery);
    }

    public static async Task<int> RunAsync(Options options)
    {
        var samples = Math.Max(1, options.GetInt("samples"));
        var warmup = options.GetInt("warmup");
        var rounds = Math.Clamp(options.GetInt("rounds", 10), 1, samples);
        using var api = new AgentApi(options.Get("url"), options.Get("token"));
        using var bench = new PtyEcho(api, options.GetInt("clear-every", 64));
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        await bench.SetUpAsync(options.GetOrDefault("shell", "/bin/sh"), total.Token).ConfigureAwait(false);

        for (var i = 0; i < warmup; i++)
        {
            bench.Floor(i);
            await bench.OursAsync(i).ConfigureAwait(false);
            await bench.WsOnlyAsync(i).ConfigureAwait(false);
        }

        var floor = new double[samples];
        var ours = new double[samples];
        var wsOnly = new double[samples];
        for (var round = 0; round < rounds; round++)
        {
            var from = samples * round / rounds;
            var to = samples * (round + 1) / rounds;
            for (var i = from; i < to; i++)
            {
                floor[i] = bench.Floor(i);
            }

            for (var i = from; i < to; i++)
            {
                ours[i] = await bench.OursAsync(i).ConfigureAwait(false);
            }

            for (var i = from; i < to; i++)
            {
                wsOnly[i] = await bench.WsOnlyAsync(i).ConfigureAwait(false);
            }
        }

        Samples.Write(options.Get("floor-out"), floor);
        Samples.Write(options.Get("out"), ours);
        Samples.Write(options.Get("ws-out"), wsOnly);
        Console.WriteLine($"   pty: shell pid {bench.ShellPid}; {bench.ExtraOutputFrames} output frame(s) besides the expected echoes");
        await bench.TearDownAsync(total.Token).ConfigureAwait(false);
        return 0;
    }

    private async Task SetUpAsync(string shell, CancellationToken cancellationToken)
    {
        // The floor's PTY pair: master read/written here, slave held open (default termios: ICANON, ECHO).
        _master = Native.Check(Native.PosixOpenPt(Native.O_RDWR | Native.O_NOCTTY | Native.O_CLOEXEC), "posix_openpt");
        Native.Check(Native.GrantPt(_master), "grantpt");
        Native.Check(Native.UnlockPt(_master), "unlockpt");
        var name = new byte[128];
        unsafe
        {
            fixed (byte* p = name)
            {
                if (Native.PtsNameR(_master, p, (nuint)name.Length) != 0)
                {
                    throw new InvalidOperationException("ptsname_r failed");
                }
            }
        }

        var slavePath = Encoding.ASCII.GetString(name, 0, Array.IndexOf(name, (byte)0));
        _slave = Native.Check(Native.Open(slavePath, Native.O_RDWR | Native.O_NOCTTY | Native.O_CLOEXEC, 0), "open " + slavePath);

        // Ours: a PTY terminal with /bin/sh, one JSON socket subscribed to its channel.
        var data = await _api.PostAsync("/terminals", "{\"pty\":true,\"shell\":" + Json.Str(shell) + "}", cancellationToken).ConfigureAwait(false);
        _terminalId = data.GetProperty("id").GetString()!;
        _channel = data.GetProperty("channel").GetString()!;
        ShellPid = data.TryGetProperty("pid", out var pid) && pid.ValueKind == System.Text.Json.JsonValueKind.Number ? pid.GetInt32() : 0;
        _ws = new FrameReader(await _api.ConnectSocketAsync(cancellationToken).ConfigureAwait(false));
        await _ws.SendTextAsync(Json.Subscribe(_channel), cancellationToken).ConfigureAwait(false);
        await _ws.SendTextAsync(Json.Subscribe("terminal:" + NoTerminal), cancellationToken).ConfigureAwait(false);
        _inputs = [.. Keys.Select(k => Encoding.UTF8.GetBytes(Json.Input(_terminalId, k.ToString())))];
        _errorProbe = Encoding.UTF8.GetBytes(Json.Input(NoTerminal, "a"));

        // The shell is up once a line clear round-trips (its prompt may come before or after; either is drained).
        await ClearOursAsync().ConfigureAwait(false);
        ClearFloor();
    }

    private async Task TearDownAsync(CancellationToken cancellationToken)
    {
        var code = await _api.DeleteAsync("/terminals/" + _terminalId, cancellationToken).ConfigureAwait(false);
        if (code is < 200 or > 299)
        {
            throw new InvalidOperationException($"DELETE /terminals/{_terminalId} answered {code}");
        }

        if (_ws is { Socket.State: WebSocketState.Open })
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _ws.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // best effort
            }
        }
    }

    // --- ours ---------------------------------------------------------------------------------------------------------

    private async Task<double> OursAsync(int i)
    {
        if (_sinceClearOurs++ >= _clearEvery)
        {
            await ClearOursAsync().ConfigureAwait(false);
            _sinceClearOurs = 1;
        }

        var key = Keys[i % Keys.Length];
        var input = _inputs[i % Keys.Length];
        using var timeout = new CancellationTokenSource(SampleTimeout);
        var ws = _ws!;
        var start = Clock.Now;
        await ws.Socket.SendAsync(input, WebSocketMessageType.Text, true, timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var frame = await ws.ReceiveAsync(timeout.Token).ConfigureAwait(false);
            var end = Clock.Now;
            var message = LiveMessage.Parse(frame);
            if (message.Type == "terminal:output" && message.Channel == _channel && message.Str("output") is { } output)
            {
                if (output.Length != 1)
                {
                    ExtraOutputFrames++;
                }

                if (output.Contains(key, StringComparison.Ordinal))
                {
                    return Clock.Ms(start, end);
                }
            }
            else
            {
                CheckNotError(message);
            }
        }
    }

    /// <summary>Ctrl-U (VKILL) empties the line the keys went into, then 'Z'; returns once the 'Z' echo was read.</summary>
    private async Task ClearOursAsync()
    {
        using var timeout = new CancellationTokenSource(SampleTimeout);
        await _ws!.SendTextAsync(Json.Input(_terminalId, "\u0015Z"), timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var message = LiveMessage.Parse(await _ws.ReceiveAsync(timeout.Token).ConfigureAwait(false));
            if (message.Type == "terminal:output" && message.Channel == _channel && message.Str("output") is { } output && output.Contains('Z', StringComparison.Ordinal))
            {
                return;
            }

            CheckNotError(message);
        }
    }

    private void CheckNotError(LiveMessage message)
    {
        if ((message.Type is "terminal:error" or "terminal:destroyed" or "output:lost") && message.Channel == _channel)
        {
            throw new InvalidOperationException($"{message.Type} on {_channel}: {message.Data}");
        }
    }

    // --- detail: /ws in→out without a PTY -----------------------------------------------------------------------------

    private async Task<double> WsOnlyAsync(int i)
    {
        _ = i;
        using var timeout = new CancellationTokenSource(SampleTimeout);
        var ws = _ws!;
        var start = Clock.Now;
        await ws.Socket.SendAsync(_errorProbe, WebSocketMessageType.Text, true, timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var frame = await ws.ReceiveAsync(timeout.Token).ConfigureAwait(false);
            var end = Clock.Now;
            var message = LiveMessage.Parse(frame);
            if (message.Type == "terminal:error" && message.Channel == "terminal:" + NoTerminal)
            {
                return Clock.Ms(start, end);
            }
        }
    }

    // --- floor: the kernel PTY round trip -----------------------------------------------------------------------------

    private unsafe double Floor(int i)
    {
        if (_sinceClearFloor++ >= _clearEvery)
        {
            ClearFloor();
            _sinceClearFloor = 1;
        }

        var key = (byte)Keys[i % Keys.Length];
        var start = Clock.Now;
        if (Native.Write(_master, &key, 1) != 1)
        {
            throw new InvalidOperationException("write to the PTY master failed");
        }

        ReadUntil(key);
        return Clock.Ms(start, Clock.Now);
    }

    private unsafe void ClearFloor()
    {
        var clear = stackalloc byte[] { 0x15, ClearMark };
        if (Native.Write(_master, clear, 2) != 2)
        {
            throw new InvalidOperationException("write to the PTY master failed");
        }

        ReadUntil(ClearMark);
    }

    /// <summary>poll + read on the master (as the agent's epoll loop does) until <paramref name="wanted"/> was read.</summary>
    private unsafe void ReadUntil(byte wanted)
    {
        var poll = new Native.PollFd { Fd = _master, Events = Native.POLLIN };
        fixed (byte* buffer = _readBuffer)
        {
            while (true)
            {
                var ready = Native.Poll(&poll, 1, (int)SampleTimeout.TotalMilliseconds);
                if (ready <= 0)
                {
                    throw new TimeoutException("no echo from the floor PTY");
                }

                var n = Native.Read(_master, buffer, _readBuffer.Length);
                if (n <= 0)
                {
                    throw new InvalidOperationException("read from the PTY master failed");
                }

                if (_readBuffer.AsSpan(0, (int)n).Contains(wanted))
                {
                    return;
                }
            }
        }
    }

    public void Dispose()
    {
        if (_slave >= 0)
        {
            Native.Close(_slave);
        }

        if (_master >= 0)
        {
            Native.Close(_master);
        }

        _ws?.Socket.Dispose();
    }
}
