using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Sandboxd.Bench;

/// <summary>
/// The exec-latency benchmark's C# half (bench/exec-latency/run.sh drives it):
/// <list type="bullet">
/// <item><c>http</c> — times <c>run.command("true")</c> round trips: sequential <c>POST /run/command</c> calls on one
/// keep-alive HTTP/1.1 connection, a Stopwatch around each (send + full response read), after an untimed warm-up.</item>
/// <item><c>report</c> — turns the sample files (one latency in ms per line) into the table and the JSON result.</item>
/// </list>
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => BenchMain.RunAsync("ExecLatency", async () =>
        args.Length > 0 && args[0] == "http" ? await HttpAsync(Options.Parse(args[1..])).ConfigureAwait(false)
        : args.Length > 0 && args[0] == "report" ? Report(Options.Parse(args[1..]))
        : Usage());

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage:
              ExecLatency http --url URL --token T --iterations N --warmup W --out FILE [--command CMD | --get PATH] [--client raw|httpclient]
                  [--floor SPAWNLAT --floor-out FILE [--rounds R]]
              ExecLatency report --json FILE --floor FILE --ours FILE --ssh FILE [--httpclient FILE] [--http-only FILE] [--meta key=value ...]
            """);
        return 2;
    }

    private static async Task<int> HttpAsync(Options options)
    {
        // --get PATH times a plain GET instead (e.g. /health: the HTTP round trip alone, no spawn).
        var getPath = options.GetOrDefault("get", "");
        var url = new Uri(new Uri(options.Get("url").TrimEnd('/') + "/"), getPath.Length > 0 ? getPath.TrimStart('/') : "run/command");
        var iterations = options.GetInt("iterations");
        var warmup = options.GetInt("warmup");
        var command = options.GetOrDefault("command", "true");

        using var handler = BenchHttp.KeepAliveHandler(1);
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Get("token"));
        client.DefaultRequestVersion = HttpVersion.Version11;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        var body = getPath.Length > 0 ? null : Encoding.UTF8.GetBytes("{\"command\":" + JsonSerializer.Serialize(command, ReportJson.Default.String) + "}");

        // --client raw: a raw keep-alive socket (RawHttp) instead of HttpClient — what the agent costs, without what a
        // .NET caller's HTTP stack adds.
        using var raw = options.GetOrDefault("client", "httpclient") == "raw" ? await RawHttp.ConnectAsync(url).ConfigureAwait(false) : null;
        var rawRequest = RawHttp.Request(url, options.Get("token"), body);
        Func<Task<double>> call = raw is null ? () => CallAsync(client, url, body) : () => RawCallAsync(raw, rawRequest, url, body is not null);

        // --floor SPAWNLAT --floor-out FILE: the measured calls are split into --rounds blocks, and before each block the
        // C floor measurer times as many `sh -c true` spawns (plus a short warm-up of its own), so a change in machine
        // load during the run weighs on both figures alike instead of skewing their ratio. Only the HTTP calls and the
        // spawns themselves are timed; starting spawnlat is not.
        var floorCommand = options.GetOrDefault("floor", "");
        var rounds = floorCommand.Length > 0 ? Math.Max(1, options.GetInt("rounds", 10)) : 1;
        var floorSamples = new List<string>();

        for (var i = 0; i < warmup; i++)
        {
            await call().ConfigureAwait(false);
        }

        var samples = new double[iterations];
        for (var round = 0; round < rounds; round++)
        {
            var from = iterations * round / rounds;
            var to = iterations * (round + 1) / rounds;
            if (floorCommand.Length > 0)
            {
                floorSamples.AddRange(await RunFloorAsync(floorCommand, to - from, Math.Max(10, warmup / rounds)).ConfigureAwait(false));
            }

            for (var i = from; i < to; i++)
            {
                samples[i] = await call().ConfigureAwait(false);
            }
        }

        Samples.Write(options.Get("out"), samples);
        if (floorCommand.Length > 0)
        {
            await File.WriteAllLinesAsync(options.Get("floor-out"), floorSamples).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>Runs <c>spawnlat COUNT WARMUP FILE /bin/sh -c true</c> (bounded to two minutes) and returns its samples.</summary>
    private static async Task<string[]> RunFloorAsync(string spawnlat, int count, int warmup)
    {
        var file = Path.GetTempFileName();
        try
        {
            var start = new ProcessStartInfo(spawnlat) { UseShellExecute = false };
            foreach (var arg in new[] { count.ToString(CultureInfo.InvariantCulture), warmup.ToString(CultureInfo.InvariantCulture), file, "/bin/sh", "-c", "true" })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {spawnlat}");
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw new TimeoutException($"{spawnlat} took more than two minutes");
            }

            return process.ExitCode == 0
                ? (await File.ReadAllLinesAsync(file).ConfigureAwait(false)).Where(l => l.Length > 0).ToArray()
                : throw new InvalidOperationException($"{spawnlat} exited with {process.ExitCode}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>One round trip: request out, whole response in. The result is checked after the clock stops.</summary>
    private static async Task<double> CallAsync(HttpClient client, Uri url, byte[]? body)
    {
        using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        var start = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start);

        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{request.Method} {url} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        }

        if (body is null)
        {
            return elapsed.TotalMilliseconds;
        }

        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        if (root.GetProperty("status").GetString() != "success" || root.GetProperty("data").GetProperty("exit_code").GetInt32() != 0)
        {
            throw new InvalidOperationException($"POST {url}: unexpected answer {Encoding.UTF8.GetString(bytes)}");
        }

        return elapsed.TotalMilliseconds;
    }

    /// <summary>One raw-socket round trip, checked as <see cref="CallAsync"/> checks its answer, after the clock stops.</summary>
    private static async Task<double> RawCallAsync(RawHttp raw, byte[] request, Uri url, bool command)
    {
        var (ms, status, bytes) = await raw.CallAsync(request).ConfigureAwait(false);
        if (status != 200)
        {
            throw new InvalidOperationException($"{url} answered {status}: {Encoding.UTF8.GetString(bytes)}");
        }

        if (command)
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.GetProperty("status").GetString() != "success" || root.GetProperty("data").GetProperty("exit_code").GetInt32() != 0)
            {
                throw new InvalidOperationException($"POST {url}: unexpected answer {Encoding.UTF8.GetString(bytes)}");
            }
        }

        return ms;
    }

    private static int Report(Options options)
    {
        var floor = NamedStats.Load("floor", "spawn floor: posix_spawn+waitpid `sh -c true`", options.Get("floor"));
        var ours = NamedStats.Load("ours", "sandboxd run.command(\"true\"), raw keep-alive socket", options.Get("ours"));
        var ssh = NamedStats.Load("ssh", "ssh ControlMaster exec `true`", options.Get("ssh"));
        var rows = new List<NamedStats> { floor, ours };
        if (options.GetOrDefault("httpclient", "") is { Length: > 0 } httpClient)
        {
            rows.Add(NamedStats.Load("httpclient", "sandboxd run.command(\"true\"), .NET HttpClient", httpClient));
        }

        rows.Add(ssh);
        if (options.GetOrDefault("http-only", "") is { Length: > 0 } httpOnly)
        {
            rows.Add(NamedStats.Load("http_only", "(detail) sandboxd GET /health, raw socket, no spawn", httpOnly));
        }

        var nameWidth = rows.Max(r => r.Name.Length);
        var header = $"{"name".PadRight(nameWidth)}  {"calls",6}  {"p50 ms",8}  {"p99 ms",8}  {"mean ms",8}  {"p50/floor",9}  {"p50/ours",8}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        foreach (var r in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name.PadRight(nameWidth)}  {r.Count,6}  {r.P50,8:F3}  {r.P99,8:F3}  {r.Mean,8:F3}  {r.P50 / floor.P50,8:F2}x  {r.P50 / ours.P50,7:F2}x"));
        }

        var oursOverFloor = ours.P50 / floor.P50;
        var p99OverFloor = ours.P99 / floor.P50;
        var sshOverOurs = ssh.P50 / ours.P50;
        var target = oursOverFloor <= 1.2 && p99OverFloor <= 3.0;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ours p50 / floor p50 = {oursOverFloor:F2}x, ours p99 / floor p50 = {p99OverFloor:F2}x (target <= 1.2x and <= 3x: {(target ? "met" : "MISSED")});  ssh p50 / ours p50 = {sshOverOurs:F2}x"));

        var meta = MachineMeta.Parse(options);
        if (meta.Count > 0)
        {
            Console.WriteLine(MachineMeta.Line(meta));
        }

        if (MachineMeta.Busy(meta))
        {
            Console.WriteLine(MachineMeta.BusyWarning);
            meta["warning"] = MachineMeta.BusyNote;
        }

        var result = new ExecLatencyResult(
            "exec-latency",
            meta,
            rows.Select(r => new ResultRow(r.Key, r.Name, r.Count, Round(r.P50), Round(r.P99), Round(r.Mean), Round(r.Min), Round(r.Max))).ToList(),
            new Ratios(Round(oursOverFloor), Round(sshOverOurs)),
            new Target("ours p50 <= 1.2x floor p50 and ours p99 <= 3x floor p50 (issue 17)", target));
        File.WriteAllText(options.Get("json"), JsonSerializer.Serialize(result, ReadableJson.ExecLatencyResult) + "\n");
        return 0;
    }

    /// <summary>The report's JSON, without escaping '+', '`' or '"' as \uXXXX (it is a file, not HTML).</summary>
    private static readonly ReportJson ReadableJson = new(new JsonSerializerOptions(ReportJson.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private static double Round(double value) => Math.Round(value, 4);
}
