using System.Globalization;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench.Live;

/// <summary>
/// The live benchmark's C# half (bench/live/run.sh drives it):
/// <list type="bullet">
/// <item><c>pty</c> — keystroke → echo over /ws, beside the kernel PTY round trip (<see cref="PtyEcho"/>).</item>
/// <item><c>watch</c> — file close → file:changed over /ws, beside inotifywait on the same files (<see cref="WatchLatency"/>).</item>
/// <item><c>rss</c> — the agent's memory with N idle PTYs (<see cref="PtyMemory"/>).</item>
/// <item><c>report</c> — the table and the JSON result.</item>
/// </list>
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => BenchMain.RunAsync("LiveLatency", async () =>
    {
        var options = Options.Parse(args.Length > 0 ? args[1..] : []);
        return args.Length == 0 ? Usage()
            : args[0] == "pty" ? await PtyEcho.RunAsync(options).ConfigureAwait(false)
            : args[0] == "watch" ? await WatchLatency.RunAsync(options).ConfigureAwait(false)
            : args[0] == "rss" ? await PtyMemory.RunAsync(options).ConfigureAwait(false)
            : args[0] == "report" ? Report.Run(options)
            : Usage();
    });

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage:
              LiveLatency pty --url URL --token T --samples N --warmup W [--rounds R] [--clear-every K] [--shell /bin/sh]
                  --out OURS --floor-out FLOOR --ws-out WS
              LiveLatency watch --url URL --token T --dir ABS_DIR --rel DIR_RELATIVE_TO_ROOT --samples N --warmup W
                  [--inotifywait PATH] [--pid-file FILE] --out OURS --peer-out PEER
              LiveLatency rss --url URL --token T --agent-pid PID --count N [--concurrency C] [--shell /bin/sh]
                  --pids-out FILE --out RESULTS
              LiveLatency report --json FILE [--pty-floor F --pty-ours F --pty-ws F] [--watch-peer F --watch-ours F]
                  [--rss F] [--meta key=value ...]
            """);
        return 2;
    }
}

internal static class StatsJson
{
    public static JsonObject ToJson(this NamedStats s) => new()
    {
        ["key"] = s.Key,
        ["name"] = s.Name,
        ["samples"] = s.Count,
        ["p50_ms"] = Report.Round(s.P50),
        ["p99_ms"] = Report.Round(s.P99),
        ["mean_ms"] = Report.Round(s.Mean),
        ["min_ms"] = Report.Round(s.Min),
        ["max_ms"] = Report.Round(s.Max),
    };
}

internal static class Report
{
    public const double PtyTargetMs = 1.0;
    public const double WatchTargetMs = 2.0;
    public const double RssTargetMb = 200.0;

    public static double Round(double value) => Math.Round(value, 4);

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    public static int Run(Options options)
    {
        var root = new JsonObject { ["benchmark"] = "live" };
        var meta = MachineMeta.Parse(options);
        var machine = MachineMeta.ToJson(meta);
        root["machine"] = machine;
        var allMet = true;

        if (options.GetOrDefault("pty-ours", "") is { Length: > 0 } ptyOurs)
        {
            var floor = NamedStats.Load("floor", "floor: kernel PTY echo, write(master) -> read(master)", options.Get("pty-floor"));
            var ours = NamedStats.Load("ours", "ours: terminal:input -> terminal:output echo over /ws", ptyOurs);
            var ws = NamedStats.Load("ws_only", "(detail) /ws in->out, no PTY (input to unknown terminal -> terminal:error)", options.Get("pty-ws"));
            var met = ours.P50 <= PtyTargetMs;
            allMet &= met;
            Console.WriteLine("== PTY keystroke -> echo (canonical-mode kernel echo of one key; sequential samples)");
            Table([floor, ours, ws], floor, "floor");
            Console.WriteLine(F($"ours p50 = {ours.P50:F3} ms (target <= {PtyTargetMs} ms: {(met ? "met" : "MISSED")}); ours p50 / floor p50 = {ours.P50 / floor.P50:F1}x, ours - floor = {ours.P50 - floor.P50:F3} ms; p99 ours / floor = {ours.P99 / floor.P99:F1}x"));
            Console.WriteLine();
            root["pty_echo"] = new JsonObject
            {
                ["results"] = new JsonArray(floor.ToJson(), ours.ToJson(), ws.ToJson()),
                ["ratios"] = new JsonObject
                {
                    ["ours_p50_over_floor_p50"] = Round(ours.P50 / floor.P50),
                    ["ours_p99_over_floor_p99"] = Round(ours.P99 / floor.P99),
                    ["ours_p50_minus_floor_p50_ms"] = Round(ours.P50 - floor.P50),
                    ["ws_only_p50_over_ours_p50"] = Round(ws.P50 / ours.P50),
                },
                ["target"] = new JsonObject { ["goal"] = F($"ours p50 <= {PtyTargetMs} ms"), ["met"] = met },
            };
        }

        if (options.GetOrDefault("watch-ours", "") is { Length: > 0 } watchOurs)
        {
            var peer = NamedStats.Load("peer", "peer: inotifywait -m -e close_write, line read", options.Get("watch-peer"));
            var ours = NamedStats.Load("ours", "ours: watcher file:changed read from /ws", watchOurs);
            var met = ours.P50 <= WatchTargetMs;
            allMet &= met;
            Console.WriteLine("== file watch: open+write+close of a new file -> event read (same files, same run)");
            Table([peer, ours], peer, "peer");
            Console.WriteLine(F($"ours p50 = {ours.P50:F3} ms (target <= {WatchTargetMs} ms: {(met ? "met" : "MISSED")}); ours p50 / peer p50 = {ours.P50 / peer.P50:F2}x; p99 ours / peer = {ours.P99 / peer.P99:F2}x"));
            Console.WriteLine();
            root["watch"] = new JsonObject
            {
                ["results"] = new JsonArray(peer.ToJson(), ours.ToJson()),
                ["ratios"] = new JsonObject
                {
                    ["ours_p50_over_peer_p50"] = Round(ours.P50 / peer.P50),
                    ["ours_p99_over_peer_p99"] = Round(ours.P99 / peer.P99),
                },
                ["target"] = new JsonObject { ["goal"] = F($"ours p50 <= {WatchTargetMs} ms"), ["met"] = met },
            };
        }

        if (options.GetOrDefault("rss", "") is { Length: > 0 } rssFile)
        {
            var r = File.ReadAllLines(rssFile).Where(l => l.Contains('=', StringComparison.Ordinal)).Select(l => l.Split('=', 2))
                .ToDictionary(kv => kv[0], kv => double.Parse(kv[1], CultureInfo.InvariantCulture));
            var n = r["count"];
            var start = r["rss_start_kb"];
            var idle = r["rss_idle_kb"];
            var subscribed = r["rss_subscribed_kb"];
            var after = r["rss_after_delete_kb"];
            var shellPss = r["shells_pss_sum_kb"];
            var peak = Math.Max(idle, subscribed);
            var met = peak / 1024 <= RssTargetMb;
            allMet &= met;
            Console.WriteLine(F($"== agent memory (VmRSS) with {n:F0} idle /bin/sh PTY terminals (fresh agent)"));
            var header = F($"{"row",-52}  {"MB",8}  {"KB per PTY",10}  {"/ target",8}");
            Console.WriteLine(header);
            Console.WriteLine(new string('-', header.Length));
            void Row(string name, double kb, double? perPty, bool target = true) =>
                Console.WriteLine(F($"{name,-52}  {kb / 1024,8:F1}  {(perPty is { } p ? p.ToString("F1", CultureInfo.InvariantCulture) : ""),10}  {(target ? (kb / 1024 / RssTargetMb).ToString("F2", CultureInfo.InvariantCulture) + "x" : ""),8}"));
            Row("agent just started (after one GET /health)", r["rss_ready_kb"], null);
            Row("agent at start (after 10 PTYs created + deleted)", start, null);
            Row(F($"agent, {n:F0} PTYs idle, no socket"), idle, (idle - start) / n);
            Row(F($"agent, {n:F0} PTYs idle, one socket subscribed to all"), subscribed, (subscribed - start) / n);
            Row("agent after deleting all (socket closed)", after, null);
            Row(F($"(context) the {n:F0} shells: sum of PSS"), shellPss, shellPss / n, target: false);
            Row(F($"(context) the {n:F0} shells: sum of RSS (shared counted N x)"), r["shells_rss_sum_kb"], r["shells_rss_sum_kb"] / n, target: false);
            Console.WriteLine(F($"agent peak with {n:F0} PTYs = {peak / 1024:F1} MB (target <= {RssTargetMb} MB: {(met ? "met" : "MISSED")}); agent per PTY / shell PSS per PTY = {(peak - start) / n / (shellPss / n):F2}x; VmHWM {r["hwm_kb"] / 1024:F1} MB"));
            Console.WriteLine(F($"created in {r["create_s"]:F2} s; one DELETE at a time: p50 {r["delete_alone_p50_ms"]:F1} ms with no other terminal, {r["sequential_delete_p50_ms"]:F1} ms with ~{n:F0} open ({r["sequential_delete_p50_ms"] / r["delete_alone_p50_ms"]:F1}x); the other {n - r["sequential_deletes"]:F0}, {r["delete_concurrency"]:F0} at a time: {r["delete_s"]:F2} s (each p50 {r["delete_p50_ms"]:F1} ms, max {r["delete_max_ms"]:F1} ms)"));
            Console.WriteLine(F($"agent fds {r["fds_start"]:F0} -> {r["fds_idle"]:F0} -> {r["fds_after_delete"]:F0}; threads {r["threads_start"]:F0} -> {r["threads_idle"]:F0} -> {r["threads_subscribed"]:F0}; processes left in the shells' sessions: {r["processes_left"]:F0}, zombies: {r["zombies_left"]:F0}"));
            Console.WriteLine();
            var memory = new JsonObject();
            foreach (var (key, value) in r)
            {
                memory[key] = value;
            }

            memory["per_pty_idle_kb"] = Round((idle - start) / n);
            memory["per_pty_subscribed_kb"] = Round((subscribed - start) / n);
            memory["shell_pss_per_pty_kb"] = Round(shellPss / n);
            memory["agent_per_pty_over_shell_pss_per_pty"] = Round((peak - start) / shellPss);
            memory["target"] = new JsonObject { ["goal"] = F($"agent VmRSS with {n:F0} PTYs <= {RssTargetMb} MB"), ["met"] = met };
            root["pty_memory"] = memory;
        }

        if (meta.Count > 0)
        {
            Console.WriteLine(MachineMeta.Line(meta));
        }

        if (MachineMeta.Busy(meta))
        {
            Console.WriteLine(MachineMeta.BusyWarning);
            machine["warning"] = MachineMeta.BusyNote;
        }

        root["targets_met"] = allMet;
        BenchJson.Write(options.Get("json"), root);
        return 0;
    }

    private static void Table(NamedStats[] rows, NamedStats reference, string referenceName)
    {
        var width = rows.Max(r => r.Name.Length);
        var header = F($"{"row".PadRight(width)}  {"samples",7}  {"p50 ms",8}  {"p99 ms",8}  {"mean ms",8}  {"max ms",8}  {"p50/" + referenceName,10}  {"p99/" + referenceName,10}");
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        foreach (var r in rows)
        {
            Console.WriteLine(F($"{r.Name.PadRight(width)}  {r.Count,7}  {r.P50,8:F3}  {r.P99,8:F3}  {r.Mean,8:F3}  {r.Max,8:F3}  {r.P50 / reference.P50,9:F2}x  {r.P99 / reference.P99,9:F2}x"));
        }
    }
}
