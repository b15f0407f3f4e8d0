using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
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
