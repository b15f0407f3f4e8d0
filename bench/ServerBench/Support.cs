using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Sandboxd.Bench;

/// <summary>
/// Plain one-shot HTTP GETs on fresh TCP connections (no client library, no pool), for "is the program answering yet".
/// The program answers <c>ok &lt;pid&gt;</c>, so a probe can tell the restarted process from the one just killed.
/// </summary>
internal static class Probe
{
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

    /// <summary>One GET: null when nothing answered 200, else the pid in the body (0 when there is none).</summary>
    public static int? TryGet(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 1000, SendTimeout = 1000 };
        // Close with RST: the program closes first (Connection: close), so without this every probe would leave a
        // TIME_WAIT on the program's side of the port, and a later probe from the same ephemeral port would run into it
        // and wait a 1 s SYN retransmission.
        socket.LingerState = new LingerOption(true, 0);
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send(Request);
            var buffer = new byte[1024];
            var length = 0;
            int n;
            while (length < buffer.Length && (n = socket.Receive(buffer, length, buffer.Length - length, SocketFlags.None)) > 0)
            {
                length += n;
            }

            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (!text.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) && !text.StartsWith("HTTP/1.0 200", StringComparison.Ordinal))
            {
                return null;
            }

            var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..].Trim();
            return body.StartsWith("ok ", StringComparison.Ordinal) && int.TryParse(body.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// Polls the port every <paramref name="pollMs"/> ms on a dedicated thread until a 200 comes from a process other
    /// than <paramref name="notPid"/>; returns the time it arrived and that pid. Times out with an exception.
    /// </summary>
    public static Task<(long At, int Pid)> WaitAnswerAsync(int port, int notPid, int pollMs, TimeSpan timeout) =>
        Task.Factory.StartNew(() =>
        {
            var deadline = Clock.After(timeout);
            while (Clock.Now < deadline)
            {
                if (TryGet(port) is { } pid && (pid != notPid || pid == 0))
                {
                    return (Clock.Now, pid);
                }

                Thread.Sleep(pollMs);
            }

            throw new TimeoutException($"nothing answered 200 on port {port} within {timeout.TotalSeconds} s");
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Waits until nothing answers on the port any more (bounded).</summary>
    public static async Task WaitClosedAsync(int port, TimeSpan timeout)
    {
        var deadline = Clock.After(timeout);
        while (TryGet(port) is not null)
        {
            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"port {port} still answers after {timeout.TotalSeconds} s");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Follows a log file (agent stderr or supervisord's log) and keeps every line with the wall-clock time the writer
/// stamped on it, so a state change can be timed by the supervisor's own clock without talking to it.
/// </summary>
internal sealed class LogTail : IAsyncDisposable
{
    private readonly string _path;
    private readonly Func<string, DateTime, DateTime?> _parseTime;
    private readonly List<(DateTime Time, string Text)> _lines = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="parseTime">the line's time (local), given the line and "now" (for logs that print no date); null if none.</param>
    public LogTail(string path, Func<string, DateTime, DateTime?> parseTime)
    {
        _path = path;
        _parseTime = parseTime;
        _loop = Task.Run(FollowAsync);
    }

    /// <summary>Agent console log: <c>HH:mm:ss.fff level: …</c> (local time, no date: the nearest day to now).</summary>
    public static DateTime? AgentTime(string line, DateTime now)
    {
        if (line.Length < 12 || !TimeOnly.TryParseExact(line.AsSpan(0, 12), "HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            return null;
        }

        var today = now.Date + time.ToTimeSpan();
        return new[] { today.AddDays(-1), today, today.AddDays(1) }.MinBy(t => Math.Abs((t - now).Ticks));
    }

    /// <summary>supervisord log: <c>yyyy-MM-dd HH:mm:ss,fff LEVEL …</c> (local time).</summary>
    public static DateTime? SupervisordTime(string line, DateTime now) =>
        line.Length >= 23 && DateTime.TryParseExact(line.AsSpan(0, 23), "yyyy-MM-dd HH:mm:ss,fff", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var t)
            ? t : null;

    private async Task FollowAsync()
    {
        long offset = 0;
        var pending = new StringBuilder();
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (File.Exists(_path))
                {
                    using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    stream.Seek(offset, SeekOrigin.Begin);
                    int n;
                    while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        offset += n;
                        pending.Append(Encoding.UTF8.GetString(buffer, 0, n));
                    }

                    var text = pending.ToString();
                    var end = text.LastIndexOf('\n');
                    if (end >= 0)
                    {
                        pending.Clear().Append(text.AsSpan(end + 1));
                        var now = DateTime.Now;
                        lock (_gate)
                        {
                            foreach (var line in text[..end].Split('\n'))
                            {
                                if (_parseTime(line, now) is { } time)
                                {
                                    _lines.Add((time, line));
                                }
                            }
                        }
                    }
                }

                await Task.Delay(5, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (IOException)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The first line at or after <paramref name="notBefore"/> (wall clock, ms truncation allowed for) containing <paramref name="needle"/>.</summary>
    public async Task<(DateTime Time, string Text)> WaitAsync(string needle, DateTime notBefore, TimeSpan timeout)
    {
        var deadline = Clock.After(timeout);
        var from = notBefore.AddMilliseconds(-1);
        while (true)
        {
            lock (_gate)
            {
                foreach (var line in _lines)
                {
                    if (line.Time >= from && line.Text.Contains(needle, StringComparison.Ordinal))
                    {
                        return line;
                    }
                }
            }

            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"no line containing \"{needle}\" in {_path} within {timeout.TotalSeconds} s");
            }

            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>The agent's HTTP API (token auth) and its <c>signals</c> WebSocket channel.</summary>
internal sealed class Agent : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly ClientWebSocket _ws = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(long At, string Signal, int Port)> _signals = [];
    private readonly Lock _gate = new();
    private Task _receive = Task.CompletedTask;

    public Agent(string url, string token)
    {
        BaseUrl = url.TrimEnd('/');
        Token = token;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri(BaseUrl + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public string BaseUrl { get; }
    public string Token { get; }

    /// <summary>Opens <c>/ws</c>, subscribes to <c>signals</c> and turns the signal service on.</summary>
    public async Task StartSignalsAsync()
    {
        var ws = new Uri(BaseUrl.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws?token=" + Uri.EscapeDataString(Token) + "&protocol=json");
        using var connect = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _ws.ConnectAsync(ws, connect.Token).ConfigureAwait(false);
        await _ws.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"subscribe\",\"channel\":\"signals\"}"), WebSocketMessageType.Text, true, connect.Token).ConfigureAwait(false);
        _receive = Task.Run(ReceiveAsync);
        await SendAsync(HttpMethod.Post, "signals/start", "{}").ConfigureAwait(false);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _ws.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
                var at = Clock.Now;
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    using var doc = JsonDocument.Parse(message.ToArray());
                    var root = doc.RootElement;
                    if (root.TryGetProperty("type", out var type) && type.GetString() == "signal" && root.TryGetProperty("data", out var data)
                        && data.TryGetProperty("signal", out var signal) && data.TryGetProperty("port", out var port) && port.ValueKind == JsonValueKind.Number)
                    {
                        var name = signal.GetString() ?? "";
                        if (name == "port" && data.TryGetProperty("type", out var kind))
                        {
                            name = "port:" + kind.GetString();
                        }

                        lock (_gate)
                        {
                            _signals.Add((at, name, port.GetInt32()));
                        }
                    }
                }

                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // closing
        }
    }

    /// <summary>The receive time of the first <paramref name="signal"/> for <paramref name="port"/> received after <paramref name="after"/>.</summary>
    public async Task<long> WaitSignalAsync(string signal, int port, long after, TimeSpan timeout)
    {
        var deadline = Clock.After(timeout);
        while (true)
        {
            lock (_gate)
            {
                foreach (var s in _signals)
                {
                    if (s.At > after && s.Signal == signal && s.Port == port)
                    {
                        return s.At;
                    }
                }
            }

            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"no {signal} signal for port {port} within {timeout.TotalSeconds} s");
            }

            await Task.Delay(2).ConfigureAwait(false);
        }
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null);
    }

    /// <summary><c>GET /servers/{slug}</c> → data.server (throws unless 200).</summary>
    public async Task<JsonNode> ServerAsync(string slug)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "servers/" + Uri.EscapeDataString(slug)).ConfigureAwait(false);
        return status == HttpStatusCode.OK && body?["data"]?["server"] is { } server
            ? server
            : throw new InvalidOperationException($"GET /servers/{slug} answered {(int)status}: {body?.ToJsonString()}");
    }

    /// <summary>Polls <c>GET /servers/{slug}</c> every 20 ms until its status is one of <paramref name="statuses"/> (bounded).</summary>
    public async Task<JsonNode> WaitStatusAsync(string slug, TimeSpan timeout, params string[] statuses)
    {
        var deadline = Clock.After(timeout);
        while (true)
        {
            var server = await ServerAsync(slug).ConfigureAwait(false);
            var status = server["status"]?.GetValue<string>();
            if (status is not null && statuses.Contains(status))
            {
                return server;
            }

            if (status == "failed" || Clock.Now > deadline)
            {
                throw new TimeoutException($"server {slug} is {status}, not {string.Join("/", statuses)}: {server.ToJsonString()}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            if (_ws.State == WebSocketState.Open)
            {
                using var close = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", close.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // best effort
        }

        await _receive.ConfigureAwait(false);
        _ws.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }
}

/// <summary>supervisord's XML-RPC interface over its unix socket (what <c>supervisorctl</c> speaks), one HTTP/1.0
/// request per connection, written in one piece.</summary>
internal sealed class Supervisord(string socketPath)
{
    /// <summary>Calls <c>supervisor.&lt;method&gt;</c> with string/bool arguments; returns the result value element.</summary>
    public async Task<XElement> CallAsync(string method, params object[] args)
    {
        // A failed read-only call is retried (the socket may refuse while supervisord is busy); start/stop never are.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await CallOnceAsync(method, args).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException && attempt < 5 && method.StartsWith("get", StringComparison.Ordinal))
            {
                await Task.Delay(20 * attempt).ConfigureAwait(false);
            }
        }
    }

    private async Task<XElement> CallOnceAsync(string method, object[] args)
    {
        var parameters = new XElement("params", args.Select(a => new XElement("param", new XElement("value",
            a is bool b ? new XElement("boolean", b ? 1 : 0) : new XElement("string", Convert.ToString(a, CultureInfo.InvariantCulture))))));
        var call = new XDocument(new XElement("methodCall", new XElement("methodName", "supervisor." + method), parameters));
        var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?>" + call.ToString(SaveOptions.DisableFormatting));
        var head = Encoding.ASCII.GetBytes($"POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {body.Length}\r\n\r\n");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token).ConfigureAwait(false);
        await socket.SendAsync(head.Concat(body).ToArray(), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (!text.StartsWith("HTTP/1.", StringComparison.Ordinal) || !text.AsSpan(9).StartsWith("200") || split < 0)
        {
            throw new IOException($"supervisor.{method}: unexpected answer: {text}");
        }

        var doc = XDocument.Parse(text[(split + 4)..]);
        if (doc.Root?.Element("fault") is { } fault)
        {
            throw new InvalidOperationException($"supervisor.{method}: {Members(fault.Element("value")!).GetValueOrDefault("faultString")}");
        }

        return doc.Root?.Element("params")?.Element("param")?.Element("value") ?? throw new InvalidOperationException($"supervisor.{method}: unexpected answer {text}");
    }

    /// <summary>A struct's members as strings.</summary>
    public static Dictionary<string, string> Members(XElement value) =>
        value.Element("struct")?.Elements("member").ToDictionary(m => (string)m.Element("name")!, m => m.Element("value")!.Value)
        ?? throw new InvalidOperationException($"not a struct: {value}");

    public async Task<(string State, int Pid)> InfoAsync(string name)
    {
        var info = Members(await CallAsync("getProcessInfo", name).ConfigureAwait(false));
        return (info["statename"], int.Parse(info["pid"], CultureInfo.InvariantCulture));
    }

    public async Task WaitStateAsync(string name, string state, TimeSpan timeout)
    {
        var deadline = Clock.After(timeout);
        while (true)
        {
            var (current, _) = await InfoAsync(name).ConfigureAwait(false);
            if (current == state)
            {
                return;
            }

            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"supervisord program {name} is {current}, not {state}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
