using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench;

/// <summary>
/// bench/servers: one small HTTP program (bench/servers/server.py) supervised by sandboxd and by supervisord, in one run.
/// <list type="bullet">
/// <item>crash-to-restarted: SIGKILL of the program's own pid, then time to (a) a 200 from a new pid and (b) the
/// supervisor saying so (sandboxd: its log's <c>running</c> line and the <c>server-ready</c> WebSocket signal;
/// supervisord: its log's <c>entered RUNNING state</c> line). Kills are spaced so each is a first crash for sandboxd's
/// backoff (the run before lasted ≥ MinUptime); the backoff itself is shown by a short series of quick kills.</item>
/// <item>start-to-ready: from <c>POST /servers</c> (health check on) / XML-RPC <c>startProcess</c> to the first 200,
/// to <c>ready</c> (WS signal) / RUNNING (log), then delete / stop and again.</item>
/// <item>floor: the same program exec'd directly by this tool, to its first 200 (what any supervisor must wait for).</item>
/// </list>
/// </summary>
internal static class ServersBenchmark
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private sealed record Target(string Key, string Label, string Kind, string Name, int Port, int DelayMs)
    {
        /// <summary>When the current process of this target answered first (to respect sandboxd's MinUptime).</summary>
        public long UpSince { get; set; }
    }

    private sealed class Settings
    {
        public required string Python { get; init; }
        public required string Program { get; init; }
        public required int PollMs { get; init; }
        public required int SettleMs { get; init; }
        public required int IntervalMs { get; init; }
        public required int MinUptimeMs { get; init; }
    }

    public static async Task<int> RunAsync(Options options)
    {
        var ports = options.Get("ports").Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => int.Parse(p[1], CultureInfo.InvariantCulture));
        var samples = options.GetInt("samples", 20);
        var startSamples = options.GetInt("start-samples", 20);
        var delayMs = options.GetInt("delay-ms", 100);
        var backoffKills = options.GetInt("backoff-kills", 6);
        var settings = new Settings
        {
            Python = options.Get("python"),
            Program = options.Get("program"),
            PollMs = Math.Max(1, options.GetInt("poll-ms", 2)),
            SettleMs = options.GetInt("settle-ms", 250),
            IntervalMs = Math.Max(1, options.GetInt("interval-ms", 100)),
            MinUptimeMs = options.GetInt("min-uptime-ms", 10_500),
        };

        await using var agent = new Agent(options.Get("url"), options.Get("token"));
        await using var agentLog = new LogTail(options.Get("agent-log"), LogTail.AgentTime);
        await using var svLog = new LogTail(options.Get("sv-log"), LogTail.SupervisordTime);
        var sv = new Supervisord(options.Get("sv-sock"));
        await agent.StartSignalsAsync().ConfigureAwait(false);

        // --- crash-to-restarted -----------------------------------------------------------------------------------------
        var crashTargets = new List<Target>
        {
            new("sbd_fast", $"sandboxd restart_delay_ms {delayMs}", "sbd", "crash-fast", ports["sbd-crash-fast"], delayMs),
            new("sbd_default", "sandboxd restart_delay_ms 1000 (default)", "sbd", "crash-default", ports["sbd-crash-default"], 1000),
            new("sv0", "supervisord startsecs=0", "sv", "crash0", ports["sv-crash0"], 0),
            new("sv1", "supervisord startsecs=1 (default)", "sv", "crash1", ports["sv-crash1"], 0),
        };
        foreach (var t in crashTargets.Where(t => t.Kind == "sbd"))
        {
            await CreateAsync(agent, settings, t.Name, t.Port, t.DelayMs, "always", healthCheck: false).ConfigureAwait(false);
        }

        foreach (var t in crashTargets)
        {
            var (_, pid) = await WaitUpAsync(agent, sv, t).ConfigureAwait(false);
            t.UpSince = (await Probe.WaitAnswerAsync(t.Port, -1, settings.PollMs, Bound).ConfigureAwait(false)).At;
            Console.WriteLine($"   {t.Label}: up on port {t.Port}, pid {pid}");
        }

        var floorPort = ports["floor"];
        var m = new Metrics();
        Console.WriteLine($"== crash-to-restarted: {samples} rounds; each round kills every target once (order rotates); sandboxd's servers are killed only after {settings.MinUptimeMs} ms up (first crash each time)");
        for (var round = 0; round < samples; round++)
        {
            m.Add("floor", "start", await FloorAsync(settings, floorPort).ConfigureAwait(false));
            foreach (var t in Rotate(crashTargets, round))
            {
                var s = t.Kind == "sbd"
                    ? await CrashSandboxdAsync(agent, agentLog, settings, t).ConfigureAwait(false)
                    : await CrashSupervisordAsync(sv, svLog, settings, t).ConfigureAwait(false);
                m.Add(t.Key, "exit", s.Exit);
                m.Add(t.Key, "spawn", s.Spawn);
                m.Add(t.Key, "listen", s.Listen);
                m.Add(t.Key, "up", s.Up);
                if (t.Kind == "sbd")
                {
                    m.Add(t.Key, "logged_delay", s.LoggedDelay);
                }
            }

            Console.WriteLine(m.RoundLine(crashTargets, round, samples, "ms to 200 / to ready|RUNNING"));
        }

        // --- backoff: quick consecutive kills --------------------------------------------------------------------------
        Console.WriteLine($"== backoff: {backoffKills} consecutive kills of each target, each as soon as the program answers again");
        var backoff = new JsonObject();
        foreach (var t in crashTargets.Where(t => t.Key is "sbd_fast" or "sv0" or "sv1"))
        {
            backoff[t.Key] = await BackoffAsync(agent, sv, agentLog, settings, t, backoffKills).ConfigureAwait(false);
        }

        foreach (var t in crashTargets)
        {
            if (t.Kind == "sbd")
            {
                await agent.SendAsync(HttpMethod.Delete, "servers/" + t.Name).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    await sv.CallAsync("stopProcess", t.Name, true).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    // not running (FATAL after the backoff series)
                }
            }
        }

        // --- start-to-ready -------------------------------------------------------------------------------------------
        Console.WriteLine($"== start-to-ready: {startSamples} starts each (sandboxd: POST /servers with health_check interval_ms {settings.IntervalMs}, delay_ms 0, then DELETE; supervisord: startProcess, then stopProcess)");
        var startTargets = new List<Target>
        {
            new("sbd", "sandboxd", "sbd", "start-hc", ports["sbd-start"], 0),
            new("sv0", "supervisord startsecs=0", "sv", "start0", ports["sv-start0"], 0),
            new("sv1", "supervisord startsecs=1 (default)", "sv", "start1", ports["sv-start1"], 0),
        };
        var st = new Metrics();
        for (var round = 0; round < startSamples; round++)
        {
            st.Add("floor", "start", await FloorAsync(settings, floorPort).ConfigureAwait(false));
            foreach (var t in Rotate(startTargets, round))
            {
                var s = t.Kind == "sbd"
                    ? await StartSandboxdAsync(agent, agentLog, settings, t).ConfigureAwait(false)
                    : await StartSupervisordAsync(sv, svLog, settings, t).ConfigureAwait(false);
                st.Add(t.Key, "answered", s.Answered);
                st.Add(t.Key, "spawn", s.Spawn);
                st.Add(t.Key, "listen", s.First200);
                st.Add(t.Key, "up", s.Up);
                st.Add(t.Key, "up_after_listen", s.Up - s.First200);
            }

            Console.WriteLine(st.RoundLine(startTargets, round, startSamples, "ms to first 200 / to ready|RUNNING"));
        }

        // --- report ---------------------------------------------------------------------------------------------------
        var report = new Report();
        var result = new JsonObject { ["benchmark"] = "servers" };
        Console.WriteLine();
        var floorRow = new Row("floor", "floor: exec python3 server.py -> first 200", m.Get("floor", "start"));
        var peer = new Dictionary<string, Row>
        {
            ["exit"] = new("sv0_exit", "supervisord startsecs=0: kill -> exit handled (log 'exited')", m.Get("sv0", "exit")) { Floor = floorRow },
            ["spawn"] = new("sv0_spawn", "supervisord startsecs=0: kill -> respawned (log 'spawned')", m.Get("sv0", "spawn")) { Floor = floorRow },
            ["listen"] = new("sv0_listen", "supervisord startsecs=0: kill -> 200 again", m.Get("sv0", "listen")) { Floor = floorRow },
            ["up"] = new("sv0_up", "supervisord startsecs=0: kill -> RUNNING (log)", m.Get("sv0", "up")) { Floor = floorRow },
        };
        var crashRows = new List<Row> { floorRow };
        foreach (var t in crashTargets.Where(t => t.Kind == "sbd"))
        {
            crashRows.Add(new Row($"{t.Key}_exit", $"{t.Label}: kill -> exit handled (log 'exited ... restarting')", m.Get(t.Key, "exit")) { Floor = floorRow, Peer = peer["exit"] });
            crashRows.Add(new Row($"{t.Key}_running", $"{t.Label}: kill -> running (log, respawned)", m.Get(t.Key, "spawn")) { Floor = floorRow, Peer = peer["spawn"] });
            crashRows.Add(new Row($"{t.Key}_listen", $"{t.Label}: kill -> 200 again", m.Get(t.Key, "listen")) { Floor = floorRow, Peer = peer["listen"] });
            crashRows.Add(new Row($"{t.Key}_ready", $"{t.Label}: kill -> ready (WS server-ready)", m.Get(t.Key, "up")) { Floor = floorRow, Peer = peer["up"] });
        }

        crashRows.AddRange(peer.Values);
        crashRows.Add(new Row("sv1_exit", "supervisord startsecs=1: kill -> exit handled (log 'exited')", m.Get("sv1", "exit")) { Floor = floorRow, Peer = peer["exit"] });
        crashRows.Add(new Row("sv1_spawn", "supervisord startsecs=1: kill -> respawned (log 'spawned')", m.Get("sv1", "spawn")) { Floor = floorRow, Peer = peer["spawn"] });
        crashRows.Add(new Row("sv1_listen", "supervisord startsecs=1: kill -> 200 again", m.Get("sv1", "listen")) { Floor = floorRow, Peer = peer["listen"] });
        crashRows.Add(new Row("sv1_up", "supervisord startsecs=1: kill -> RUNNING (log)", m.Get("sv1", "up")) { Floor = floorRow, Peer = peer["up"] });
        result["crash"] = report.Table(
            $"crash-to-restarted: SIGKILL of the program's own pid -> ...   ({samples} kills each; every sandboxd kill a first crash; ms)",
            crashRows, "p50/floor", "p50/sv(0)");

        var fast = crashTargets[0];
        var floorP50 = floorRow.Stats!.P50;
        var fastRunning = Stats.Of(m.Get(fast.Key, "spawn"))!;
        var fastListen = Stats.Of(m.Get(fast.Key, "listen"))!;
        var runningMet = fastRunning.P50 <= fast.DelayMs + 50;
        var listenMet = fastListen.P50 <= fast.DelayMs + 50 + floorP50;
        report.Line(FormattableString.Invariant(
            $"target (sandboxd, restart_delay_ms {fast.DelayMs}): kill -> running p50 {fastRunning.P50:F1} ms <= delay + 50 = {fast.DelayMs + 50} ms: {(runningMet ? "met" : "MISSED")}"));
        report.Line(FormattableString.Invariant(
            $"        kill -> 200 p50 {fastListen.P50:F1} ms <= delay + 50 + floor p50 = {fast.DelayMs + 50 + floorP50:F1} ms: {(listenMet ? "met" : "MISSED")}"));
        foreach (var t in crashTargets.Where(t => t.Kind == "sbd"))
        {
            var exit = Stats.Of(m.Get(t.Key, "exit"))!.P50;
            var running = Stats.Of(m.Get(t.Key, "spawn"))!.P50;
            var listenP50 = Stats.Of(m.Get(t.Key, "listen"))!.P50;
            var readyP50 = Stats.Of(m.Get(t.Key, "up"))!.P50;
            report.Line(FormattableString.Invariant(
                $"{t.Label}, p50 breakdown: kill -> exit handled {exit:F1} + delay -> running {running - exit:F1} + program start -> 200 {listenP50 - running:F1} + port detection -> ready {readyP50 - listenP50:F1} ms"));
        }

        var delaysSeen = crashTargets.Where(t => t.Kind == "sbd").Select(t => $"{t.Key}: {string.Join(",", m.Get(t.Key, "logged_delay").Distinct().Order())} ms");
        report.Line("restart delays the agent logged for these kills (a doubled value would mean crash backoff): " + string.Join("; ", delaysSeen));
        report.Line();

        var startFloor = new Row("floor", "floor: exec python3 server.py -> first 200", st.Get("floor", "start"));
        var startPeer = new Dictionary<string, Row>
        {
            ["spawn"] = new("sv0_spawn", "supervisord startsecs=0: startProcess -> spawned (log)", st.Get("sv0", "spawn")) { Floor = startFloor },
            ["listen"] = new("sv0_first200", "supervisord startsecs=0: startProcess -> first 200", st.Get("sv0", "listen")) { Floor = startFloor },
            ["up"] = new("sv0_running", "supervisord startsecs=0: startProcess -> RUNNING (log)", st.Get("sv0", "up")) { Floor = startFloor },
            ["answered"] = new("sv0_rpc_returned", "supervisord startsecs=0: startProcess(wait) returned", st.Get("sv0", "answered")) { Floor = startFloor },
        };
        var startRows = new List<Row>
        {
            startFloor,
            new("sbd_answered", "sandboxd: POST /servers -> 201 answered", st.Get("sbd", "answered")) { Floor = startFloor },
            new("sbd_running", "sandboxd: POST /servers -> running (log, spawned)", st.Get("sbd", "spawn")) { Floor = startFloor, Peer = startPeer["spawn"] },
            new("sbd_first200", "sandboxd: POST /servers -> first 200", st.Get("sbd", "listen")) { Floor = startFloor, Peer = startPeer["listen"] },
            new("sbd_ready", $"sandboxd: POST /servers -> ready (WS; hc every {settings.IntervalMs} ms)", st.Get("sbd", "up")) { Floor = startFloor, Peer = startPeer["up"] },
            new("sbd_ready_after_first200", "sandboxd: ready - first 200 (same start)", st.Get("sbd", "up_after_listen")),
        };
        startRows.AddRange(startPeer.Values);
        startRows.Add(new Row("sv1_spawn", "supervisord startsecs=1: startProcess -> spawned (log)", st.Get("sv1", "spawn")) { Floor = startFloor, Peer = startPeer["spawn"] });
        startRows.Add(new Row("sv1_first200", "supervisord startsecs=1: startProcess -> first 200", st.Get("sv1", "listen")) { Floor = startFloor, Peer = startPeer["listen"] });
        startRows.Add(new Row("sv1_running", "supervisord startsecs=1: startProcess -> RUNNING (log)", st.Get("sv1", "up")) { Floor = startFloor, Peer = startPeer["up"] });
        startRows.Add(new Row("sv1_rpc_returned", "supervisord startsecs=1: startProcess(wait) returned", st.Get("sv1", "answered")) { Floor = startFloor, Peer = startPeer["answered"] });
        result["start"] = report.Table($"start-to-ready: ({startSamples} starts each; ms)", startRows, "p50/floor", "p50/sv(0)");
        var gap = Stats.Of(st.Get("sbd", "up_after_listen"))!;
        var readyMet = gap.P99 <= settings.IntervalMs;
        report.Line(FormattableString.Invariant(
            $"target: ready within one health-check interval ({settings.IntervalMs} ms) of the program's first 200: p50 {gap.P50:F1} ms, p99 {gap.P99:F1} ms, max {gap.Max:F1} ms: {(readyMet ? "met" : gap.P50 <= settings.IntervalMs ? "met at p50, MISSED at p99" : "MISSED")}"));
        report.Line("supervisord has no health check: RUNNING means 'alive for startsecs', not 'answering' (see sv1: RUNNING 1-2 s after the first 200).");
        report.Line();
        report.Line("backoff: consecutive quick kills (each as soon as the program answered again); ms from each kill to the next 200, the agent's logged restart delay in brackets:");
        foreach (var (key, node) in backoff)
        {
            report.Line($"  {key}: {node!["summary"]!.GetValue<string>()}");
        }

        report.Line();
        var meta = Report.Meta(options);
        result["machine"] = report.Machine(meta);
        result["config"] = new JsonObject
        {
            ["program"] = "python3 -S bench/servers/server.py (PORT from the environment; answers 'ok <pid>')",
            ["samples"] = samples,
            ["start_samples"] = startSamples,
            ["restart_delay_ms"] = delayMs,
            ["health_check"] = new JsonObject { ["path"] = "/", ["interval_ms"] = settings.IntervalMs, ["timeout_ms"] = 1000, ["delay_ms"] = 0 },
            ["poll_ms"] = settings.PollMs,
            ["settle_ms"] = settings.SettleMs,
            ["min_uptime_ms"] = settings.MinUptimeMs,
        };
        result["targets"] = new JsonObject
        {
            ["restart_running_within_delay_plus_50ms"] = runningMet,
            ["restart_200_within_delay_plus_50ms_plus_floor"] = listenMet,
            ["ready_within_one_interval_of_first_200_p99"] = readyMet,
        };
        result["backoff"] = backoff;
        result["samples"] = new JsonObject { ["crash"] = m.ToJson(), ["start"] = st.ToJson() };
        report.Save(options.Get("json"), options.Get("txt"), result);
        return 0;
    }

    private static IEnumerable<Target> Rotate(List<Target> targets, int by) => targets.Skip(by % targets.Count).Concat(targets.Take(by % targets.Count));

    /// <summary>Samples by target and metric.</summary>
    private sealed class Metrics
    {
        private readonly Dictionary<string, Dictionary<string, List<double>>> _values = [];

        public void Add(string target, string metric, double value)
        {
            if (!_values.TryGetValue(target, out var metrics))
            {
                _values[target] = metrics = [];
            }

            if (!metrics.TryGetValue(metric, out var list))
            {
                metrics[metric] = list = [];
            }

            list.Add(value);
        }

        public List<double> Get(string target, string metric) =>
            _values.TryGetValue(target, out var metrics) && metrics.TryGetValue(metric, out var list) ? list : [];

        public double Last(string target, string metric) => Get(target, metric) is { Count: > 0 } list ? list[^1] : double.NaN;

        /// <summary>The progress line of a round: the floor's start, then each target's last "listen" / "up" (ms).</summary>
        public string RoundLine(IEnumerable<Target> targets, int round, int rounds, string legend)
        {
            var line = string.Join("  ", targets.Select(t => FormattableString.Invariant($"{t.Key} {Last(t.Key, "listen"),6:F1}/{Last(t.Key, "up"),6:F1}")));
            return FormattableString.Invariant($"   round {round + 1,2}/{rounds}: floor {Last("floor", "start"),6:F1}  {line}  ({legend})");
        }

        public JsonObject ToJson() => new(_values.Select(t => KeyValuePair.Create(t.Key,
            (JsonNode?)new JsonObject(t.Value.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)ToArray(kv.Value)))))));
    }

    private static JsonArray ToArray(IEnumerable<double> values) => new(values.Select(v => (JsonNode)Report.Round(v)).ToArray());

    private static async Task CreateAsync(Agent agent, Settings settings, string slug, int port, int delayMs, string policy, bool healthCheck)
    {
        var body = new JsonObject
        {
            ["slug"] = slug,
            ["start"] = $"exec {settings.Python} -S {settings.Program}",
            ["port"] = port,
            ["strict_port"] = true,
            ["restart_policy"] = policy,
            ["restart_delay_ms"] = delayMs,
            ["stop_timeout_ms"] = 2000,
        };
        if (healthCheck)
        {
            body["health_check"] = new JsonObject { ["path"] = "/", ["interval_ms"] = settings.IntervalMs, ["timeout_ms"] = 1000, ["delay_ms"] = 0 };
        }

        var (status, answer) = await agent.SendAsync(HttpMethod.Post, "servers", body.ToJsonString()).ConfigureAwait(false);
        if (status != HttpStatusCode.Created && status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"POST /servers {slug} answered {(int)status}: {answer?.ToJsonString()}");
        }
    }

    /// <summary>Waits until a target is up (sandboxd: ready; supervisord: RUNNING) and returns its state and pid.</summary>
    private static async Task<(string State, int Pid)> WaitUpAsync(Agent agent, Supervisord sv, Target t)
    {
        if (t.Kind == "sbd")
        {
            var server = await agent.WaitStatusAsync(t.Name, Bound, "ready").ConfigureAwait(false);
            return ("ready", server["pid"]!.GetValue<int>());
        }

        await sv.WaitStateAsync(t.Name, "RUNNING", Bound).ConfigureAwait(false);
        return await sv.InfoAsync(t.Name).ConfigureAwait(false);
    }

    /// <summary>Sandboxd's crash backoff only resets after a run of MinUptime: wait until the current run is that old.</summary>
    private static async Task WaitUptimeAsync(Target t, Settings settings)
    {
        var left = settings.MinUptimeMs - Clock.Ms(t.UpSince, Clock.Now);
        if (left > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(left)).ConfigureAwait(false);
        }
    }

    /// <summary>The program's start-up alone: exec it here (no shell) and time until its first 200; then kill it.</summary>
    private static async Task<double> FloorAsync(Settings settings, int port)
    {
        var start = new ProcessStartInfo(settings.Python) { UseShellExecute = false, RedirectStandardOutput = true };
        start.ArgumentList.Add("-S");
        start.ArgumentList.Add(settings.Program);
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        var t0 = Clock.Now;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the program");
        try
        {
            var (at, _) = await Probe.WaitAnswerAsync(port, -1, settings.PollMs, Bound).ConfigureAwait(false);
            return Clock.Ms(t0, at);
        }
        finally
        {
            process.Kill();
            using var exit = new CancellationTokenSource(Bound);
            await process.WaitForExitAsync(exit.Token).ConfigureAwait(false);
            await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        }
    }

    private static void CheckProgram(int pid, Settings settings)
    {
        var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        if (!cmdline.Contains(settings.Program, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"pid {pid} is not the program: {cmdline}");
        }
    }

    /// <summary>ms from the kill: exit handled by the supervisor, program respawned, 200 again, supervisor says up.</summary>
    private sealed record CrashSample(double Exit, double Spawn, double Listen, double Up, double LoggedDelay);

    private static async Task<CrashSample> CrashSandboxdAsync(Agent agent, LogTail agentLog, Settings settings, Target t)
    {
        await WaitUptimeAsync(t, settings).ConfigureAwait(false);
        var before = await agent.WaitStatusAsync(t.Name, Bound, "ready").ConfigureAwait(false);
        var pid = before["pid"]!.GetValue<int>();
        var restarts = before["restart_count"]!.GetValue<int>();
        CheckProgram(pid, settings);
        await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        using var process = Process.GetProcessById(pid);
        var wall = DateTime.Now;
        var t0 = Clock.Now;
        process.Kill();
        var listen = Probe.WaitAnswerAsync(t.Port, pid, settings.PollMs, Bound);
        var ready = agent.WaitSignalAsync("server-ready", t.Port, t0, Bound);
        var exited = agentLog.WaitAsync($"Server {t.Name} exited with", wall, Bound);
        var running = agentLog.WaitAsync($"Server {t.Name}: running", wall, Bound);
        await Task.WhenAll(listen, ready, exited, running).ConfigureAwait(false);
        var after = await agent.ServerAsync(t.Name).ConfigureAwait(false);
        if (after["restart_count"]!.GetValue<int>() != restarts + 1 || after["pid"]!.GetValue<int>() != listen.Result.Pid)
        {
            throw new InvalidOperationException($"{t.Name}: unexpected state after the restart: {after.ToJsonString()}");
        }

        t.UpSince = listen.Result.At;
        return new CrashSample(
            (exited.Result.Time - wall).TotalMilliseconds,
            (running.Result.Time - wall).TotalMilliseconds,
            Clock.Ms(t0, listen.Result.At),
            Clock.Ms(t0, ready.Result),
            ParseDelay(exited.Result.Text));
    }

    /// <summary>"… restarting in 100 ms (restart 3)" → 100; -1 when absent.</summary>
    private static double ParseDelay(string line)
    {
        var at = line.IndexOf("restarting in ", StringComparison.Ordinal);
        if (at < 0)
        {
            return -1;
        }

        var rest = line[(at + 14)..];
        var end = rest.IndexOf(' ', StringComparison.Ordinal);
        return double.TryParse(rest.AsSpan(0, end < 0 ? rest.Length : end), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : -1;
    }

    private static async Task<CrashSample> CrashSupervisordAsync(Supervisord sv, LogTail svLog, Settings settings, Target t)
    {
        await sv.WaitStateAsync(t.Name, "RUNNING", Bound).ConfigureAwait(false);
        var (_, pid) = await sv.InfoAsync(t.Name).ConfigureAwait(false);
        CheckProgram(pid, settings);
        // Nobody talks to supervisord from here until the sample is complete: a request would wake its loop up.
        await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        using var process = Process.GetProcessById(pid);
        var wall = DateTime.Now;
        var t0 = Clock.Now;
        process.Kill();
        var listen = Probe.WaitAnswerAsync(t.Port, pid, settings.PollMs, Bound);
        var exited = svLog.WaitAsync($"exited: {t.Name} (", wall, Bound);
        var spawned = svLog.WaitAsync($"spawned: '{t.Name}' with pid", wall, Bound);
        var running = svLog.WaitAsync($"success: {t.Name} entered RUNNING state", wall, Bound);
        await Task.WhenAll(listen, exited, spawned, running).ConfigureAwait(false);
        t.UpSince = listen.Result.At;
        return new CrashSample(
            (exited.Result.Time - wall).TotalMilliseconds,
            (spawned.Result.Time - wall).TotalMilliseconds,
            Clock.Ms(t0, listen.Result.At),
            (running.Result.Time - wall).TotalMilliseconds,
            0);
    }

    /// <summary>Kills the program as soon as it answers again, <paramref name="kills"/> times; reports each kill → 200.</summary>
    private static async Task<JsonObject> BackoffAsync(Agent agent, Supervisord sv, LogTail agentLog, Settings settings, Target t, int kills)
    {
        int pid;
        if (t.Kind == "sbd")
        {
            await WaitUptimeAsync(t, settings).ConfigureAwait(false);
            pid = (await agent.WaitStatusAsync(t.Name, Bound, "ready").ConfigureAwait(false))["pid"]!.GetValue<int>();
        }
        else
        {
            await sv.WaitStateAsync(t.Name, "RUNNING", Bound).ConfigureAwait(false);
            pid = (await sv.InfoAsync(t.Name).ConfigureAwait(false)).Pid;
        }

        await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        var times = new JsonArray();
        var delays = new JsonArray();
        var parts = new List<string>();
        var gaveUp = false;
        for (var i = 0; i < kills; i++)
        {
            CheckProgram(pid, settings);
            using var process = Process.GetProcessById(pid);
            var wall = DateTime.Now;
            var t0 = Clock.Now;
            process.Kill();
            try
            {
                var (at, next) = await Probe.WaitAnswerAsync(t.Port, pid, settings.PollMs, TimeSpan.FromSeconds(t.Kind == "sbd" ? 40 : 8)).ConfigureAwait(false);
                var ms = Clock.Ms(t0, at);
                times.Add(Report.Round(ms));
                var part = ms.ToString("F0", CultureInfo.InvariantCulture);
                if (t.Kind == "sbd")
                {
                    var line = await agentLog.WaitAsync($"Server {t.Name} exited with", wall, Bound).ConfigureAwait(false);
                    var delay = ParseDelay(line.Text);
                    delays.Add(delay);
                    part += $" [{delay:F0}]";
                }

                parts.Add(part);
                pid = next;
                t.UpSince = at;
            }
            catch (TimeoutException)
            {
                gaveUp = true;
                var state = t.Kind == "sv" ? (await sv.InfoAsync(t.Name).ConfigureAwait(false)).State : "?";
                parts.Add($"no restart within 8 s (state {state})");
                break;
            }
        }

        var summary = string.Join(", ", parts) + " ms";
        Console.WriteLine($"   {t.Key}: {summary}");
        var node = new JsonObject { ["kill_to_200_ms"] = times, ["summary"] = summary, ["gave_up"] = gaveUp };
        if (t.Kind == "sbd")
        {
            node["logged_delay_ms"] = delays;
        }

        return node;
    }

    /// <summary>ms from the start request: answered, spawned (log), first 200, supervisor says up (ready / RUNNING).</summary>
    private sealed record StartSample(double Answered, double Spawn, double First200, double Up);

    private static async Task<StartSample> StartSandboxdAsync(Agent agent, LogTail agentLog, Settings settings, Target t)
    {
        var slug = t.Name;
        await agent.SendAsync(HttpMethod.Delete, "servers/" + slug).ConfigureAwait(false);
        await Probe.WaitClosedAsync(t.Port, Bound).ConfigureAwait(false);
        await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        var body = new JsonObject
        {
            ["slug"] = slug,
            ["start"] = $"exec {settings.Python} -S {settings.Program}",
            ["port"] = t.Port,
            ["strict_port"] = true,
            ["restart_policy"] = "never",
            ["stop_timeout_ms"] = 2000,
            ["health_check"] = new JsonObject { ["path"] = "/", ["interval_ms"] = settings.IntervalMs, ["timeout_ms"] = 1000, ["delay_ms"] = 0 },
        }.ToJsonString();
        var wall = DateTime.Now;
        var t0 = Clock.Now;
        var first = Probe.WaitAnswerAsync(t.Port, -1, settings.PollMs, Bound);
        var ready = agent.WaitSignalAsync("server-ready", t.Port, t0, Bound);
        var running = agentLog.WaitAsync($"Server {slug}: running", wall, Bound);
        var (status, answer) = await agent.SendAsync(HttpMethod.Post, "servers", body).ConfigureAwait(false);
        var answered = Clock.Now;
        if (status != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"POST /servers answered {(int)status}: {answer?.ToJsonString()}");
        }

        await Task.WhenAll(first, ready, running).ConfigureAwait(false);
        var server = await agent.ServerAsync(slug).ConfigureAwait(false);
        if (server["status"]?.GetValue<string>() != "ready")
        {
            throw new InvalidOperationException($"{slug}: server-ready signalled but status is {server.ToJsonString()}");
        }

        var (deleted, _) = await agent.SendAsync(HttpMethod.Delete, "servers/" + slug).ConfigureAwait(false);
        if (deleted != HttpStatusCode.NoContent)
        {
            throw new InvalidOperationException($"DELETE /servers/{slug} answered {(int)deleted}");
        }

        await Probe.WaitClosedAsync(t.Port, Bound).ConfigureAwait(false);
        return new StartSample(Clock.Ms(t0, answered), (running.Result.Time - wall).TotalMilliseconds, Clock.Ms(t0, first.Result.At), Clock.Ms(t0, ready.Result));
    }

    private static async Task<StartSample> StartSupervisordAsync(Supervisord sv, LogTail svLog, Settings settings, Target t)
    {
        var (state, _) = await sv.InfoAsync(t.Name).ConfigureAwait(false);
        if (state is not ("STOPPED" or "EXITED"))
        {
            await sv.CallAsync("stopProcess", t.Name, true).ConfigureAwait(false);
        }

        await Probe.WaitClosedAsync(t.Port, Bound).ConfigureAwait(false);
        await Task.Delay(settings.SettleMs).ConfigureAwait(false);
        var wall = DateTime.Now;
        var t0 = Clock.Now;
        var first = Probe.WaitAnswerAsync(t.Port, -1, settings.PollMs, Bound);
        var spawned = svLog.WaitAsync($"spawned: '{t.Name}' with pid", wall, Bound);
        var running = svLog.WaitAsync($"success: {t.Name} entered RUNNING state", wall, Bound);
        await sv.CallAsync("startProcess", t.Name, true).ConfigureAwait(false);
        var returned = Clock.Now;
        await Task.WhenAll(first, spawned, running).ConfigureAwait(false);
        await sv.CallAsync("stopProcess", t.Name, true).ConfigureAwait(false);
        await Probe.WaitClosedAsync(t.Port, Bound).ConfigureAwait(false);
        return new StartSample(Clock.Ms(t0, returned), (spawned.Result.Time - wall).TotalMilliseconds, Clock.Ms(t0, first.Result.At), (running.Result.Time - wall).TotalMilliseconds);
    }
}
