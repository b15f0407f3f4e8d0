using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench;

/// <summary>
/// bench/proxy: the same upstream (bench/proxy/upstream.js, Node http) reached three ways — directly (the floor),
/// through the agent's preview proxy <c>/preview/&lt;port&gt;/</c> with the token header (ours), and through a minimal
/// Node.js reverse proxy (the peer) — measured in the same run, interleaved:
/// <list type="bullet">
/// <item>latency: sequential small GETs on one keep-alive connection per path;</item>
/// <item>throughput: download of one large body (streamed by the upstream), a few repetitions;</item>
/// <item>concurrency: small GETs from C connections at once for a fixed time (requests per second).</item>
/// </list>
/// </summary>
internal static class ProxyBenchmark
{
    private sealed class Route(string key, string label, string url, string? token)
    {
        public string Key { get; } = key;
        public string Label { get; } = label;
        public Uri Url { get; } = new(url.EndsWith('/') ? url : url + "/");
        public string? Token { get; } = token;

        public HttpClient Client(int connections)
        {
            var client = new HttpClient(BenchHttp.KeepAliveHandler(connections))
            {
                Timeout = TimeSpan.FromMinutes(5),
                DefaultRequestVersion = HttpVersion.Version11,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            if (Token is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            }

            return client;
        }
    }

    public static async Task<int> RunAsync(Options options)
    {
        var calls = options.GetInt("calls", 5000);
        var warmup = options.GetInt("warmup", 500);
        var rounds = Math.Max(1, options.GetInt("rounds", 10));
        var bigMb = options.GetInt("big-mb", 256);
        var bigReps = Math.Max(1, options.GetInt("big-reps", 3));
        var concurrency = Math.Max(1, options.GetInt("concurrency", 16));
        var concSeconds = Math.Max(1, options.GetInt("conc-seconds", 5));
        var agentPid = options.GetInt("agent-pid", 0);
        var manyConnections = options.GetInt("connections", 1000);
        var connBatch = Math.Max(1, options.GetInt("conn-batch", 128));
        var wsMessages = options.GetInt("ws-messages", 2000);
        var wsWarmup = options.GetInt("ws-warmup", 200);

        var paths = new List<Route>
        {
            new("direct", "direct (floor)", options.Get("direct"), null),
            new("ours", "sandboxd /preview/<port>/", options.Get("proxied"), options.Get("token")),
        };
        if (options.GetOrDefault("peer", "") is { Length: > 0 } peer)
        {
            paths.Add(new("peer", "node reverse proxy (peer)", peer, null));
        }

        var memory = new JsonObject { ["before"] = Memory(agentPid) };

        // --- latency ---------------------------------------------------------------------------------------------------
        Console.WriteLine($"== latency: GET / ({calls} sequential calls per path on one keep-alive connection, after {warmup} warm-up; {rounds} interleaved rounds)");
        var clients = paths.ToDictionary(p => p.Key, p => p.Client(1));
        var latency = paths.ToDictionary(p => p.Key, _ => new List<double>(calls));
        foreach (var p in paths)
        {
            for (var i = 0; i < warmup; i++)
            {
                await SmallAsync(clients[p.Key], p.Url).ConfigureAwait(false);
            }
        }

        for (var round = 0; round < rounds; round++)
        {
            var from = calls * round / rounds;
            var to = calls * (round + 1) / rounds;
            foreach (var p in Rotate(paths, round))
            {
                for (var i = from; i < to; i++)
                {
                    latency[p.Key].Add(await SmallAsync(clients[p.Key], p.Url).ConfigureAwait(false));
                }
            }
        }

        // --- throughput ------------------------------------------------------------------------------------------------
        Console.WriteLine($"== throughput: GET /big?mb={bigMb} ({bigMb} MiB streamed by the upstream), {bigReps} times per path, interleaved");
        var mibPerSecond = paths.ToDictionary(p => p.Key, _ => new List<double>());
        var firstByte = paths.ToDictionary(p => p.Key, _ => new List<double>());
        var buffer = new byte[256 * 1024];
        for (var rep = 0; rep < bigReps; rep++)
        {
            foreach (var p in Rotate(paths, rep))
            {
                var (seconds, ttfb) = await BigAsync(clients[p.Key], new Uri(p.Url, $"big?mb={bigMb}"), (long)bigMb << 20, buffer).ConfigureAwait(false);
                mibPerSecond[p.Key].Add(bigMb / seconds);
                firstByte[p.Key].Add(ttfb);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {p.Key,-6} {bigMb / seconds,8:F0} MiB/s  (first byte after {ttfb:F1} ms)"));
            }
        }

        memory["after_throughput"] = Memory(agentPid);
        foreach (var client in clients.Values)
        {
            client.Dispose();
        }

        // --- concurrency -----------------------------------------------------------------------------------------------
        Console.WriteLine($"== concurrency: GET / from {concurrency} connections at once for {concSeconds} s per path");
        var rps = new Dictionary<string, double>();
        var concLatency = new Dictionary<string, List<double>>();
        foreach (var p in paths)
        {
            using var client = p.Client(concurrency);
            (rps[p.Key], concLatency[p.Key]) = await ConcurrentAsync(client, p.Url, concurrency, TimeSpan.FromSeconds(concSeconds)).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {p.Key,-6} {rps[p.Key],8:F0} req/s"));
        }

        // --- many connections ---------------------------------------------------------------------------------------
        var many = new Dictionary<string, ManyResult>();
        if (manyConnections > 0)
        {
            Console.WriteLine($"== connections: GET / from {manyConnections} keep-alive connections at once for {concSeconds} s per path (opened {connBatch} at a time)");
            foreach (var p in paths)
            {
                many[p.Key] = await ManyConnectionsAsync(p, manyConnections, connBatch, TimeSpan.FromSeconds(concSeconds)).ConfigureAwait(false);
                var m = many[p.Key];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {p.Key,-6} {m.Rps,8:F0} req/s  {m.Errors} errors  {m.Opened} connections opened"));
            }

            memory["after_connections"] = Memory(agentPid);
        }

        // --- WebSocket echo ----------------------------------------------------------------------------------------
        var ws = new Dictionary<string, List<double>>();
        if (wsMessages > 0)
        {
            Console.WriteLine($"== websocket: echo of a 16-byte text message, {wsMessages} round trips per path on one connection, after {wsWarmup} warm-up; {rounds} interleaved rounds");
            var sockets = new Dictionary<string, ClientWebSocket>();
            try
            {
                foreach (var p in paths)
                {
                    sockets[p.Key] = await WebSocketAsync(p).ConfigureAwait(false);
                    ws[p.Key] = new List<double>(wsMessages);
                    for (var i = 0; i < wsWarmup; i++)
                    {
                        await EchoAsync(sockets[p.Key], i).ConfigureAwait(false);
                    }
                }

                for (var round = 0; round < rounds; round++)
                {
                    foreach (var p in Rotate(paths, round))
                    {
                        for (var i = wsMessages * round / rounds; i < wsMessages * (round + 1) / rounds; i++)
                        {
                            ws[p.Key].Add(await EchoAsync(sockets[p.Key], i).ConfigureAwait(false));
                        }
                    }
                }

                foreach (var socket in sockets.Values)
                {
                    using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", closing.Token).ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (var socket in sockets.Values)
                {
                    socket.Dispose();
                }
            }
        }

        memory["after"] = Memory(agentPid);

        // --- report ----------------------------------------------------------------------------------------------------
        var report = new Report();
        var result = new JsonObject { ["benchmark"] = "proxy" };
        Console.WriteLine();
        var direct = new Row("direct", "direct: GET / (floor)", latency["direct"]);
        var rows = new List<Row> { direct };
        Row? peerRow = null;
        if (latency.TryGetValue("peer", out var peerSamples))
        {
            peerRow = new Row("peer", "node reverse proxy: GET / (peer)", peerSamples) { Floor = direct };
        }

        var ours = new Row("ours", "sandboxd /preview/<port>/: GET /", latency["ours"]) { Floor = direct, Peer = peerRow };
        rows.Add(ours);
        if (peerRow is not null)
        {
            rows.Add(peerRow);
        }

        result["latency"] = report.Table($"latency: sequential GET / on one keep-alive connection ({calls} calls per path; ms)", rows, "p50/direct", "p50/peer", decimals: 3);
        var d = direct.Stats!;
        var o = ours.Stats!;
        var peerAdded = peerRow?.Stats is { } ps ? FormattableString.Invariant($"   (node peer: p50 +{(ps.P50 - d.P50) * 1000:F0} us, p99 +{(ps.P99 - d.P99) * 1000:F0} us)") : "";
        report.Line(FormattableString.Invariant($"added by the preview proxy: p50 +{(o.P50 - d.P50) * 1000:F0} us, p99 +{(o.P99 - d.P99) * 1000:F0} us{peerAdded}"));
        report.Line();

        var width = paths.Max(p => p.Label.Length) + 2;
        report.Line($"throughput: {bigMb} MiB body, {bigReps} downloads per path (MiB/s; first byte = response headers + first body bytes, ms)");
        var header = $"{"path".PadRight(width)}  {"median MiB/s",12}  {"min",8}  {"max",8}  {"first byte ms",13}  {"vs direct",9}  {"vs peer",8}";
        report.Line(header);
        report.Line(new string('-', header.Length));
        var throughput = new JsonArray();
        double Median(List<double> v) => Stats.Percentile([.. v.Order()], 0.5);
        foreach (var p in paths)
        {
            var m = Median(mibPerSecond[p.Key]);
            var vsDirect = m / Median(mibPerSecond["direct"]);
            double? vsPeer = p.Key != "peer" && mibPerSecond.TryGetValue("peer", out var peerMib) ? m / Median(peerMib) : null;
            report.Line(string.Create(CultureInfo.InvariantCulture,
                $"{p.Label.PadRight(width)}  {m,12:F0}  {mibPerSecond[p.Key].Min(),8:F0}  {mibPerSecond[p.Key].Max(),8:F0}  {Median(firstByte[p.Key]),13:F1}  {vsDirect,8:F2}x  {(vsPeer is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) + "x" : ""),8}"));
            throughput.Add(new JsonObject
            {
                ["key"] = p.Key,
                ["name"] = p.Label,
                ["mib_per_s"] = new JsonArray(mibPerSecond[p.Key].Select(x => (JsonNode)Report.Round(x)).ToArray()),
                ["median_mib_per_s"] = Report.Round(m),
                ["first_byte_ms"] = new JsonArray(firstByte[p.Key].Select(x => (JsonNode)Report.Round(x)).ToArray()),
                ["median_over_direct"] = Report.Round(vsDirect),
                ["median_over_peer"] = vsPeer is { } vp ? Report.Round(vp) : null,
            });
        }

        result["throughput"] = throughput;
        report.Line();

        report.Line($"concurrency: GET / from {concurrency} keep-alive connections at once, {concSeconds} s per path");
        header = $"{"path".PadRight(width)}  {"req/s",9}  {"p50 ms",8}  {"p99 ms",8}  {"vs direct",9}  {"vs peer",8}";
        report.Line(header);
        report.Line(new string('-', header.Length));
        var concurrent = new JsonArray();
        foreach (var p in paths)
        {
            var s = Stats.Of(concLatency[p.Key])!;
            var vsDirect = rps[p.Key] / rps["direct"];
            double? vsPeer = p.Key != "peer" && rps.TryGetValue("peer", out var peerRps) ? rps[p.Key] / peerRps : null;
            report.Line(string.Create(CultureInfo.InvariantCulture,
                $"{p.Label.PadRight(width)}  {rps[p.Key],9:F0}  {s.P50,8:F2}  {s.P99,8:F2}  {vsDirect,8:F2}x  {(vsPeer is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) + "x" : ""),8}"));
            var entry = s.ToJson();
            entry["key"] = p.Key;
            entry["name"] = p.Label;
            entry["requests_per_s"] = Report.Round(rps[p.Key]);
            entry["rps_over_direct"] = Report.Round(vsDirect);
            entry["rps_over_peer"] = vsPeer is { } vp ? Report.Round(vp) : null;
            concurrent.Add(entry);
        }

        result["concurrency"] = concurrent;
        report.Line();

        if (many.Count > 0)
        {
            report.Line($"connections: GET / from {manyConnections} keep-alive connections at once (opened {connBatch} at a time), {concSeconds} s per path");
            header = $"{"path".PadRight(width)}  {"req/s",9}  {"p50 ms",8}  {"p99 ms",8}  {"errors",7}  {"opened",7}  {"vs direct",9}  {"vs peer",8}";
            report.Line(header);
            report.Line(new string('-', header.Length));
            var connections = new JsonArray();
            foreach (var p in paths)
            {
                var m = many[p.Key];
                var s = Stats.Of(m.Latencies);
                var vsDirect = m.Rps / many["direct"].Rps;
                double? vsPeer = p.Key != "peer" && many.TryGetValue("peer", out var peerMany) ? m.Rps / peerMany.Rps : null;
                report.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{p.Label.PadRight(width)}  {m.Rps,9:F0}  {s?.P50 ?? double.NaN,8:F2}  {s?.P99 ?? double.NaN,8:F2}  {m.Errors,7}  {m.Opened,7}  {vsDirect,8:F2}x  {(vsPeer is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) + "x" : ""),8}"));
                var entry = s?.ToJson() ?? new JsonObject();
                entry["key"] = p.Key;
                entry["name"] = p.Label;
                entry["connections"] = manyConnections;
                entry["connections_opened"] = m.Opened;
                entry["requests"] = m.Latencies.Count;
                entry["errors"] = m.Errors;
                entry["first_error"] = m.FirstError;
                entry["requests_per_s"] = Report.Round(m.Rps);
                entry["rps_over_direct"] = Report.Round(vsDirect);
                entry["rps_over_peer"] = vsPeer is { } vp ? Report.Round(vp) : null;
                connections.Add(entry);
            }

            result["connections"] = connections;
            var errors = many.Values.Sum(m => m.Errors);
            report.Line(errors == 0 ? "no errors" : $"ERRORS: {string.Join("; ", many.Where(m => m.Value.Errors > 0).Select(m => $"{m.Key}: {m.Value.Errors} (first: {m.Value.FirstError})"))}");
            report.Line();
        }

        if (ws.Count > 0)
        {
            var wsDirect = new Row("direct", "direct: echo (floor)", ws["direct"]);
            Row? wsPeer = ws.TryGetValue("peer", out var wsPeerSamples) ? new Row("peer", "node reverse proxy: echo (peer)", wsPeerSamples) { Floor = wsDirect } : null;
            var wsOurs = new Row("ours", "sandboxd /preview/<port>/: echo", ws["ours"]) { Floor = wsDirect, Peer = wsPeer };
            var wsRows = new List<Row> { wsDirect, wsOurs };
            if (wsPeer is not null)
            {
                wsRows.Add(wsPeer);
            }

            result["websocket"] = report.Table($"websocket: echo round trip of a 16-byte text message on one connection ({wsMessages} per path; ms)", wsRows, "p50/direct", "p50/peer", decimals: 3);
            var wd = wsDirect.Stats!;
            var wo = wsOurs.Stats!;
            report.Line(FormattableString.Invariant($"added by the preview proxy: p50 +{(wo.P50 - wd.P50) * 1000:F0} us, p99 +{(wo.P99 - wd.P99) * 1000:F0} us"));
            report.Line();
        }
        report.Line($"agent memory (kB): {memory.ToJsonString()}");
        var meta = Report.Meta(options);
        result["machine"] = report.Machine(meta);
        result["agent_memory_kb"] = memory;
        result["config"] = new JsonObject
        {
            ["calls"] = calls,
            ["warmup"] = warmup,
            ["rounds"] = rounds,
            ["big_mib"] = bigMb,
            ["big_reps"] = bigReps,
            ["concurrency"] = concurrency,
            ["concurrency_seconds"] = concSeconds,
            ["connections"] = manyConnections,
            ["connection_batch"] = connBatch,
            ["ws_messages"] = wsMessages,
            ["ws_warmup"] = wsWarmup,
        };
        report.Save(options.Get("json"), options.Get("txt"), result);
        return 0;
    }

    private static IEnumerable<Route> Rotate(List<Route> paths, int by) => paths.Skip(by % paths.Count).Concat(paths.Take(by % paths.Count));

    /// <summary>One GET of the small body: request out, whole response in. Checked after the clock stops.</summary>
    private static async Task<double> SmallAsync(HttpClient client, Uri url)
    {
        var start = Clock.Now;
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        var elapsed = Clock.Ms(start, Clock.Now);
        if (response.StatusCode != HttpStatusCode.OK || bytes.Length != 3)
        {
            throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode} with {bytes.Length} bytes");
        }

        return elapsed;
    }

    /// <summary>Downloads the big body, reading it as it streams; returns seconds for the whole body and ms to the first byte.</summary>
    private static async Task<(double Seconds, double FirstByteMs)> BigAsync(HttpClient client, Uri url, long expected, byte[] buffer)
    {
        var start = Clock.Now;
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode}");
        }

        await using var body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
        long total = 0;
        var firstByte = 0.0;
        int n;
        while ((n = await body.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            if (total == 0)
            {
                firstByte = Clock.Ms(start, Clock.Now);
            }

            total += n;
        }

        var seconds = Clock.Ms(start, Clock.Now) / 1000;
        return total == expected ? (seconds, firstByte) : throw new InvalidOperationException($"GET {url}: {total} bytes, expected {expected}");
    }

    private static async Task<(double Rps, List<double> Latencies)> ConcurrentAsync(HttpClient client, Uri url, int concurrency, TimeSpan duration)
    {
        // Open every connection first (a short unmeasured warm-up), then run all workers for the duration.
        var warm = Clock.After(TimeSpan.FromMilliseconds(500));
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Clock.Now < warm)
            {
                await SmallAsync(client, url).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);

        var start = Clock.Now;
        var end = Clock.After(duration);
        var perWorker = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            var mine = new List<double>();
            while (Clock.Now < end)
            {
                mine.Add(await SmallAsync(client, url).ConfigureAwait(false));
            }

            return mine;
        })).ConfigureAwait(false);
        var elapsed = Clock.Ms(start, Clock.Now) / 1000;
        var all = perWorker.SelectMany(x => x).ToList();
        return (all.Count / elapsed, all);
    }

    private sealed record ManyResult(double Rps, List<double> Latencies, long Errors, string? FirstError, int Opened);

    /// <summary>
    /// N keep-alive connections, each its own client with one connection (so there are exactly N, counted as they
    /// open), opened <paramref name="batch"/> at a time: every connection of a batch completes one request — which
    /// authenticates it at the agent, whose gate bounds connections that have not (256 by default) — before the next
    /// batch opens. Then all N issue GET / back to back for the duration. A failed request counts as an error (and the
    /// worker goes on); a connection opened beyond N shows a connection that was dropped and reopened.
    /// </summary>
    private static async Task<ManyResult> ManyConnectionsAsync(Route route, int count, int batch, TimeSpan duration)
    {
        var opened = 0;
        long errors = 0;
        string? firstError = null;
        var clients = new HttpClient[count];
        for (var i = 0; i < count; i++)
        {
            var handler = BenchHttp.KeepAliveHandler(1);
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref opened);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            clients[i] = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30), DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
            if (route.Token is not null)
            {
                clients[i].DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", route.Token);
            }
        }

        async Task<double?> OneAsync(HttpClient client)
        {
            try
            {
                return await SmallAsync(client, route.Url).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException or IOException)
            {
                if (Interlocked.Increment(ref errors) == 1)
                {
                    firstError = e.Message;
                }

                return null;
            }
        }

        try
        {
            for (var from = 0; from < count; from += batch)
            {
                await Task.WhenAll(clients.Skip(from).Take(batch).Select(OneAsync)).ConfigureAwait(false);
            }

            var start = Clock.Now;
            var end = Clock.After(duration);
            var perWorker = await Task.WhenAll(clients.Select(async client =>
            {
                var mine = new List<double>();
                while (Clock.Now < end)
                {
                    if (await OneAsync(client).ConfigureAwait(false) is { } ms)
                    {
                        mine.Add(ms);
                    }
                }

                return mine;
            })).ConfigureAwait(false);
            var elapsed = Clock.Ms(start, Clock.Now) / 1000;
            var all = perWorker.SelectMany(x => x).ToList();
            return new ManyResult(all.Count / elapsed, all, Interlocked.Read(ref errors), firstError, Volatile.Read(ref opened));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>A WebSocket to the upstream's echo (<c>/echo</c>) along this path, with the token header for ours.</summary>
    private static async Task<ClientWebSocket> WebSocketAsync(Route route)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (route.Token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + route.Token);
        }

        var url = new UriBuilder(new Uri(route.Url, "echo")) { Scheme = "ws" }.Uri;
        using var connecting = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(url, connecting.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return socket;
    }

    private static readonly byte[] EchoReceive = new byte[1024];

    /// <summary>One round trip: a 16-byte text message out, the same message back (checked after the clock stops).</summary>
    private static async Task<double> EchoAsync(ClientWebSocket socket, int i)
    {
        var message = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"echo-{i,11:D11}"));
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var start = Clock.Now;
        await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, bound.Token).ConfigureAwait(false);
        var received = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(EchoReceive.AsMemory(received), bound.Token).ConfigureAwait(false);
            received += result.Count;
        }
        while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

        var elapsed = Clock.Ms(start, Clock.Now);
        return result.MessageType == WebSocketMessageType.Text && EchoReceive.AsSpan(0, received).SequenceEqual(message)
            ? elapsed
            : throw new InvalidOperationException($"websocket echo {i}: got {result.MessageType} of {received} bytes");
    }

    /// <summary>The agent's VmRSS and VmHWM (peak) in kB, from /proc (null without a pid).</summary>
    private static JsonObject? Memory(int pid)
    {
        if (pid <= 0 || !File.Exists($"/proc/{pid}/status"))
        {
            return null;
        }

        var result = new JsonObject();
        foreach (var line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal) || line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                result[line[..5]] = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return result;
    }
}
