using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench;

/// <summary>
/// The measuring half of two benchmarks (their run.sh scripts start the agent, supervisord and the upstream servers):
/// <list type="bullet">
/// <item><c>servers</c> — bench/servers: crash-to-restarted and start-to-ready of one small HTTP program under sandboxd
/// and under supervisord, next to the program's own start-up (the floor).</item>
/// <item><c>proxy</c> — bench/proxy: latency and throughput of the preview reverse proxy (<c>/preview/&lt;port&gt;/</c>)
/// against the same upstream reached directly (the floor) and through a minimal Node.js reverse proxy (the peer).</item>
/// </list>
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => BenchMain.RunAsync("ServerBench", async () =>
        args.Length > 0 && args[0] == "servers" ? await ServersBenchmark.RunAsync(Options.Parse(args[1..])).ConfigureAwait(false)
        : args.Length > 0 && args[0] == "proxy" ? await ProxyBenchmark.RunAsync(Options.Parse(args[1..])).ConfigureAwait(false)
        : Usage());

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage:
              ServerBench servers --url URL --token T --agent-log FILE --sv-sock SOCK --sv-log FILE --python PY --program FILE
                  --ports name=port,... [--samples N] [--start-samples N] [--delay-ms MS] [--interval-ms MS] [--poll-ms MS]
                  --json FILE --txt FILE [--meta key=value ...]
              ServerBench proxy --direct URL --proxied URL --token T [--peer URL] [--agent-pid PID] [--calls N] [--warmup N]
                  [--rounds R] [--big-mb MB] [--big-reps N] [--concurrency C] [--conc-seconds S] [--connections N]
                  [--conn-batch B] [--ws-messages N] [--ws-warmup N] --json FILE --txt FILE
                  [--meta key=value ...]
            """);
        return 2;
    }
}

internal static class StatsJson
{
    public static JsonObject ToJson(this Stats s) => new()
    {
        ["n"] = s.Count,
        ["p50_ms"] = Report.Round(s.P50),
        ["p99_ms"] = Report.Round(s.P99),
        ["mean_ms"] = Report.Round(s.Mean),
        ["min_ms"] = Report.Round(s.Min),
        ["max_ms"] = Report.Round(s.Max),
    };
}

/// <summary>A table row: a named sample list and, optionally, the rows it is compared with.</summary>
internal sealed class Row(string key, string name, List<double> samples)
{
    public string Key { get; } = key;
    public string Name { get; } = name;
    public List<double> Samples { get; } = samples;
    public Stats? Stats => Stats.Of(Samples);
    public Row? Floor { get; init; }
    public Row? Peer { get; init; }
}

/// <summary>Tables, the text report (stdout + .txt) and the JSON result.</summary>
internal sealed class Report
{
    private readonly StringBuilder _text = new();

    public static double Round(double value) => Math.Round(value, 3);

    public void Line(string line = "")
    {
        Console.WriteLine(line);
        _text.AppendLine(line);
    }

    /// <summary>Prints rows with p50/p99/mean/min/max (in <paramref name="unit"/>) and the p50 ratios to each row's floor and peer.</summary>
    public JsonArray Table(string title, IReadOnlyList<Row> rows, string floorLabel, string peerLabel, int decimals = 1, string unit = "ms")
    {
        Line(title);
        var width = Math.Max(4, rows.Max(r => r.Name.Length));
        var header = $"{"row".PadRight(width)}  {"n",4}  {"p50 " + unit,10}  {"p99 " + unit,10}  {"mean",9}  {"min",9}  {"max",9}  {floorLabel,10}  {peerLabel,10}";
        Line(header);
        Line(new string('-', header.Length));
        var json = new JsonArray();
        foreach (var row in rows)
        {
            var s = row.Stats;
            var entry = new JsonObject { ["key"] = row.Key, ["name"] = row.Name };
            if (s is null)
            {
                Line($"{row.Name.PadRight(width)}  {0,4}  (no samples)");
                entry["n"] = 0;
                json.Add(entry);
                continue;
            }

            var floorRatio = Ratio(s, row.Floor);
            var peerRatio = Ratio(s, row.Peer);
            string F(double v) => v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            Line($"{row.Name.PadRight(width)}  {s.Count,4}  {F(s.P50),10}  {F(s.P99),10}  {F(s.Mean),9}  {F(s.Min),9}  {F(s.Max),9}  {Format(floorRatio),10}  {Format(peerRatio),10}");
            foreach (var (k, v) in s.ToJson().ToList())
            {
                entry[k] = v?.DeepClone();
            }

            if (floorRatio is { } f)
            {
                entry["p50_over_floor"] = Round(f);
                entry["floor"] = row.Floor!.Key;
            }

            if (peerRatio is { } p)
            {
                entry["p50_over_peer"] = Round(p);
                entry["peer"] = row.Peer!.Key;
            }

            json.Add(entry);
        }

        Line();
        return json;
    }

    private static double? Ratio(Stats s, Row? other) => other?.Stats is { P50: > 0 } o ? s.P50 / o.P50 : null;

    private static string Format(double? ratio) => ratio is { } r ? r.ToString("F2", CultureInfo.InvariantCulture) + "x" : "";

    /// <summary>The <c>--meta</c> pairs, plus the load average now (the end of the measurements) and, with
    /// <c>--agent-pid</c>, the agent's RSS and peak RSS now.</summary>
    public static Dictionary<string, string> Meta(Options options)
    {
        var meta = MachineMeta.Parse(options);
        if (!meta.ContainsKey("loadavg_after") && File.Exists("/proc/loadavg"))
        {
            meta["loadavg_after"] = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }

        if (!meta.ContainsKey("processes_after"))
        {
            // The agent walks /proc on its restart and port-detection paths: how many processes there are matters.
            meta["processes_after"] = Directory.EnumerateDirectories("/proc").Count(d => char.IsAsciiDigit(System.IO.Path.GetFileName(d)[0])).ToString(CultureInfo.InvariantCulture);
        }

        var pid = options.GetInt("agent-pid", 0);
        if (pid > 0 && File.Exists($"/proc/{pid}/status"))
        {
            foreach (var line in File.ReadAllLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    meta["agent_rss_kb_after"] = line[6..].Trim().Split(' ')[0];
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    meta["agent_peak_rss_kb"] = line[6..].Trim().Split(' ')[0];
                }
            }
        }

        return meta;
    }

    /// <summary>Prints the machine line (and the busy warning) and returns the machine block for the JSON.</summary>
    public JsonObject Machine(Dictionary<string, string> meta)
    {
        Line(MachineMeta.Line(meta));
        var machine = MachineMeta.ToJson(meta);
        if (MachineMeta.Busy(meta))
        {
            Line(MachineMeta.BusyWarning);
            machine["warning"] = MachineMeta.BusyNote;
        }

        return machine;
    }

    public void Save(string jsonPath, string txtPath, JsonObject result)
    {
        BenchJson.Write(jsonPath, result);
        File.WriteAllText(txtPath, _text.ToString());
    }
}
