using System.Globalization;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench.Many;

/// <summary>
/// bench/many's C# half (bench/many/run.sh drives it): <c>servers</c>, <c>watchers</c>, <c>commands</c> (the measurers)
/// and <c>report</c> (the table, met/MISSED per target, and the JSON). The PTY row is bench/live's <c>rss</c> part, run by
/// run.sh and read here from its JSON.
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => BenchMain.RunAsync("ManyThings", async () =>
    {
        var options = Options.Parse(args.Length > 0 ? args[1..] : []);
        return args.Length == 0 ? Usage()
            : args[0] == "servers" ? await Servers.RunAsync(options).ConfigureAwait(false)
            : args[0] == "watchers" ? await Watchers.RunAsync(options).ConfigureAwait(false)
            : args[0] == "commands" ? await Commands.RunAsync(options).ConfigureAwait(false)
            : args[0] == "report" ? Report.Run(options)
            : Usage();
    });

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage:
              ManyThings servers --url URL --token T --agent-pid PID --count N --binary TINYHTTP --ports "P1 P2 …(2N)"
                  [--interval-ms 2000] [--window-s 20] [--strace PATH --strace-s S --strace-out F] --out RESULTS
              ManyThings watchers --url URL --token T --agent-pid PID --count N --dir ABS_TREE --rel TREE_RELATIVE_TO_ROOT
                  [--samples 50] --out RESULTS --one-out F --many-first-out F --many-all-out F
              ManyThings commands --url URL --token T --agent-pid PID --checkpoints 1000,10000 --out RESULTS
              ManyThings report --json FILE [--live-json F] [--servers F] [--watchers F --one F --many-first F --many-all F]
                  [--commands F] [--meta key=value ...]
            """);
        return 2;
    }
}

internal static class Report
{
    public const double PtyTargetMb = 40;
    public const double ServersTargetPercent = 5;
    public const double CommandsTargetRatio = 1.10;

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Met(bool met) => met ? "met" : "MISSED";

    private static double D(Dictionary<string, string> r, string key) => double.Parse(r[key], CultureInfo.InvariantCulture);

    public static int Run(Options options)
    {
        var root = new JsonObject { ["benchmark"] = "many" };
        var meta = MachineMeta.Parse(options);
        var machine = MachineMeta.ToJson(meta);
        root["machine"] = machine;
        var rows = new JsonArray();
        var allMet = true;
        void Row(string key, string what, string figure, string target, bool met, JsonObject detail)
        {
            allMet &= met;
            Console.WriteLine(F($"{what,-58}  {figure,-34}  {target,-26}  {Met(met)}"));
            detail["key"] = key;
            detail["row"] = what;
            detail["figure"] = figure;
            detail["target"] = target;
            detail["met"] = met;
            rows.Add(detail);
        }

        Console.WriteLine("== many things at once (issue 17 item 6)");
        Console.WriteLine(F($"{"row",-58}  {"figure",-34}  {"target",-26}  result"));
        Console.WriteLine(new string('-', 130));
        var notes = new List<string>();

        if (options.GetOrDefault("live-json", "") is { Length: > 0 } liveJson)
        {
            var m = JsonNode.Parse(File.ReadAllText(liveJson))!["pty_memory"]!.AsObject();
            double V(string k) => m[k]!.GetValue<double>();
            var n = V("count");
            var peak = Math.Max(V("rss_idle_kb"), V("rss_subscribed_kb"));
            Row("ptys", F($"1. agent RSS with {n:F0} idle PTYs, one socket subscribed"), F($"{peak / 1024:F1} MB ({(peak - V("rss_start_kb")) / n:F1} KB/PTY)"),
                F($"<= {PtyTargetMb} MB"), peak / 1024 <= PtyTargetMb, new JsonObject
                {
                    ["ptys"] = n, ["rss_start_kb"] = V("rss_start_kb"), ["rss_idle_kb"] = V("rss_idle_kb"), ["rss_subscribed_kb"] = V("rss_subscribed_kb"),
                    ["rss_after_delete_kb"] = V("rss_after_delete_kb"), ["shells_pss_sum_kb"] = V("shells_pss_sum_kb"), ["source"] = "bench/live rss part",
                });
            notes.Add(F($"   ptys: agent {V("rss_start_kb") / 1024:F1} MB at start, {V("rss_idle_kb") / 1024:F1} MB idle without a socket, {V("rss_subscribed_kb") / 1024:F1} MB subscribed, {V("rss_after_delete_kb") / 1024:F1} MB after deleting all; the shells' own PSS {V("shells_pss_sum_kb") / 1024:F1} MB"));
        }

        if (options.GetOrDefault("servers", "") is { Length: > 0 } serversFile)
        {
            var r = ResultFile.Read(serversFile);
            var seconds = D(r, "window_s");
            double Pct(string key) => D(r, key) / Probe.TicksPerSecond / seconds * 100;
            var agent = Pct("agent_servers_ticks");
            Row("servers", F($"2. agent CPU, {D(r, "count"):F0} servers idle, health check every {D(r, "interval_ms"):F0} ms"),
                F($"{agent:F2} % of one core"), F($"<= {ServersTargetPercent} %"), agent <= ServersTargetPercent, new JsonObject
                {
                    ["agent_percent_one_core"] = Math.Round(agent, 3),
                    ["agent_no_servers_percent"] = Math.Round(Pct("agent_idle_ticks"), 3),
                    ["servers_percent_under_agent"] = Math.Round(Pct("servers_ticks"), 3),
                    ["floor_servers_alone_percent"] = Math.Round(Pct("floor_ticks"), 3),
                    ["window_s"] = seconds,
                    ["ticks_per_s"] = Probe.TicksPerSecond,
                    ["raw"] = ToJson(r),
                });
            notes.Add(F($"   servers: over {seconds:F0} s each — floor (the {D(r, "count"):F0} programs alone, no agent): {Pct("floor_ticks"):F2} %; agent with no server: {Pct("agent_idle_ticks"):F2} %; agent with {D(r, "count"):F0}: {agent:F2} %; the programs under the agent (answering checks): {Pct("servers_ticks"):F2} %"));
            notes.Add(F($"   servers: ready+healthy in {D(r, "ready_s"):F1} s; healthy after the window {D(r, "healthy_after"):F0}, restarts {D(r, "restarts_after"):F0}; agent RSS {D(r, "rss_no_servers_kb") / 1024:F1} -> {D(r, "rss_servers_kb") / 1024:F1} MB, {D(r, "threads"):F0} thread names; busiest threads (ticks): {r["agent_thread_ticks"]}"));
        }

        if (options.GetOrDefault("watchers", "") is { Length: > 0 } watchersFile)
        {
            var r = ResultFile.Read(watchersFile);
            var one = NamedStats.Load("one", "1 watcher", options.Get("one"));
            var first = NamedStats.Load("many_first", "N watchers: first watcher's event", options.Get("many-first"));
            var all = NamedStats.Load("many_all", "N watchers: last of all N events", options.Get("many-all"));
            var n = D(r, "count");
            var created = D(r, "created");
            Row("watchers", F($"3. {n:F0} watchers over one tree ({D(r, "tree_dirs"):F0} dirs, {D(r, "tree_files"):F0} files)"),
                F($"{created:F0} created, {D(r, "refused"):F0} refused"), F($"all {n:F0} created"), created >= n, new JsonObject
                {
                    ["latency"] = new JsonArray(Stat(one), Stat(first), Stat(all)),
                    ["raw"] = ToJson(r),
                });
            notes.Add(F($"   watchers: agent RSS {D(r, "rss_none_kb") / 1024:F1} MB with none, {D(r, "rss_one_kb") / 1024:F1} MB with 1, {D(r, "rss_many_kb") / 1024:F1} MB with {created:F0} ({(D(r, "rss_many_kb") - D(r, "rss_one_kb")) / Math.Max(1, created - 1):F1} KB each), {D(r, "rss_after_delete_kb") / 1024:F1} MB after deleting all"));
            notes.Add(F($"   watchers: inotify instances/watches {D(r, "inotify_instances_one"):F0}/{D(r, "inotify_watches_one"):F0} with 1, {D(r, "inotify_instances_many"):F0}/{D(r, "inotify_watches_many"):F0} with {created:F0} (limits: max_user_instances {r["max_user_instances"]}, max_user_watches {r["max_user_watches"]}); fds {D(r, "fds_none"):F0} -> {D(r, "fds_many"):F0} -> {D(r, "fds_after_delete"):F0}"));
            if (D(r, "refused") > 0)
            {
                notes.Add("   watchers: first refusal: " + r["first_refusal"]);
            }

            notes.Add(F($"   watch latency (new file -> file:changed), p50 / p99 ms: 1 watcher {one.P50:F2} / {one.P99:F2}; with {created:F0}: first watcher {first.P50:F2} / {first.P99:F2} ({first.P50 / one.P50:F2}x), all {created:F0} copies {all.P50:F2} / {all.P99:F2} ({all.P50 / one.P50:F2}x)"));
        }

        if (options.GetOrDefault("commands", "") is { Length: > 0 } commandsFile)
        {
            var r = ResultFile.Read(commandsFile);
            var cps = r["checkpoints"].Split(',');
            var low = D(r, $"rss_after_{cps[0]}_kb");
            var high = D(r, $"rss_after_{cps[^1]}_kb");
            var ratio = high / low;
            Row("commands", F($"4. agent RSS after {cps[^1]} run.command(\"true\") vs after {cps[0]}"), F($"{high / 1024:F1} / {low / 1024:F1} MB = {ratio:F3}x"),
                F($"<= {CommandsTargetRatio:F2}x"), ratio <= CommandsTargetRatio, new JsonObject { ["ratio"] = Math.Round(ratio, 4), ["raw"] = ToJson(r) });
            var steps = string.Join(", ", cps.Select(c => F($"after {c}: {D(r, $"rss_after_{c}_kb") / 1024:F1} MB ({r[$"threads_after_{c}"]} threads, {r[$"fds_after_{c}"]} fds)")));
            notes.Add(F($"   commands: agent RSS at start {D(r, "rss_start_kb") / 1024:F1} MB, {steps}; VmHWM {D(r, "rss_hwm_kb") / 1024:F1} MB"));
        }

        Console.WriteLine();
        foreach (var note in notes)
        {
            Console.WriteLine(note);
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

        root["rows"] = rows;
        root["targets_met"] = allMet;
        BenchJson.Write(options.Get("json"), root);
        return 0;
    }

    private static JsonObject Stat(NamedStats s) => new()
    {
        ["key"] = s.Key, ["name"] = s.Name, ["samples"] = s.Count, ["p50_ms"] = Math.Round(s.P50, 4), ["p99_ms"] = Math.Round(s.P99, 4),
        ["mean_ms"] = Math.Round(s.Mean, 4), ["max_ms"] = Math.Round(s.Max, 4),
    };

    private static JsonObject ToJson(Dictionary<string, string> r)
    {
        var o = new JsonObject();
        foreach (var (k, v) in r)
        {
            o[k] = double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? JsonValue.Create(d) : JsonValue.Create(v);
        }

        return o;
    }
}
