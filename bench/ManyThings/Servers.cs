using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sandboxd.Bench.Live;

namespace Sandboxd.Bench.Many;

/// <summary>
/// Row 2: N tiny HTTP servers (bench/many/tinyhttp.c) supervised by the agent with health checks; the CPU the agent
/// spends when all are ready and nothing else happens, from /proc/PID/stat utime+stime over a window, beside
/// (a) the same agent with no servers over the same length of window and (b) the floor: the same N programs started by
/// this tool (no agent, no checks) over the same length of window. No request is made to the agent during a window.
/// </summary>
internal static class Servers
{
    public static async Task<int> RunAsync(Options options)
    {
        var agentPid = options.GetInt("agent-pid");
        var count = options.GetInt("count");
        var binary = options.Get("binary");
        var intervalMs = options.GetInt("interval-ms", 2000);
        var window = TimeSpan.FromSeconds(options.GetInt("window-s", 20));
        var ports = options.Get("ports").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        if (ports.Length < 2 * count)
        {
            throw new ArgumentException($"--ports: need {2 * count} ports (floor + agent), got {ports.Length}");
        }

        using var api = new AgentApi(options.Get("url"), options.Get("token"));
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var ct = total.Token;
        var r = new ResultFile();
        r.Put("count", count);
        r.Put("interval_ms", intervalMs);
        r.Put("window_s", window.TotalSeconds);

        // (b) the floor: the same programs, no agent.
        var floor = new List<Process>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var start = new ProcessStartInfo(binary) { UseShellExecute = false };
                start.Environment["PORT"] = ports[count + i].ToString(CultureInfo.InvariantCulture);
                floor.Add(Process.Start(start) ?? throw new InvalidOperationException("could not start " + binary));
            }

            await Probe.UntilAsync(() => Task.FromResult(floor.All(p => Listening(ports[count + floor.IndexOf(p)]))), TimeSpan.FromSeconds(30),
                () => "the floor's programs to listen", ct).ConfigureAwait(false);
            var floorTicks = await WindowAsync(floor.Select(p => p.Id).ToArray(), window, ct).ConfigureAwait(false);
            r.Put("floor_ticks", floorTicks);
            r.Put("floor_rss_sum_kb", floor.Sum(p => Proc.StatusKb(p.Id, "VmRSS")));
        }
        finally
        {
            foreach (var p in floor)
            {
                try
                {
                    p.Kill();
                    await p.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    // already gone
                }

                p.Dispose();
            }
        }

        // (a) the agent with no server.
        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_no_servers_kb", Proc.StatusKb(agentPid, "VmRSS"));
        r.Put("agent_idle_ticks", await WindowAsync([agentPid], window, ct).ConfigureAwait(false));

        // The agent with N servers, each with a health check.
        var created = Stopwatch.StartNew();
        var slugs = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var slug = $"many-{i:D4}";
            var body = "{\"slug\":" + Json.Str(slug) + ",\"start\":" + Json.Str("exec " + binary) + ",\"port\":" + ports[i].ToString(CultureInfo.InvariantCulture)
                + ",\"restart_policy\":\"on-failure\",\"autostart\":false,\"health_check\":{\"path\":\"/\",\"interval_ms\":" + intervalMs.ToString(CultureInfo.InvariantCulture)
                + ",\"timeout_ms\":1000,\"delay_ms\":0}}";
            await api.PostAsync("/servers", body, ct).ConfigureAwait(false);
            slugs.Add(slug);
        }

        var pids = Array.Empty<int>();
        var notReady = "";
        await Probe.UntilAsync(async () =>
        {
            var list = (await api.GetAsync("/servers", ct).ConfigureAwait(false)).GetProperty("servers").EnumerateArray()
                .Where(s => s.GetProperty("slug").GetString()!.StartsWith("many-", StringComparison.Ordinal)).ToList();
            var bad = list.Where(s => s.GetProperty("status").GetString() != "ready" || !(s.TryGetProperty("healthy", out var h) && h.ValueKind == JsonValueKind.True)).ToList();
            notReady = $"{bad.Count + count - list.Count} of {count} not ready/healthy"
                + (bad.Count > 0 ? $" (e.g. {bad[0].GetProperty("slug").GetString()}: {bad[0].GetProperty("status").GetString()})" : "");
            pids = [.. list.Where(s => s.TryGetProperty("pid", out _)).Select(s => s.GetProperty("pid").GetInt32())];
            return list.Count == count && bad.Count == 0;
        }, TimeSpan.FromSeconds(180), () => notReady, ct).ConfigureAwait(false);
        r.Put("ready_s", Math.Round(created.Elapsed.TotalSeconds, 2));
        Console.WriteLine($"   servers: {count} ready and healthy in {created.Elapsed.TotalSeconds:F1} s; measuring {window.TotalSeconds:F0} s");

        // Settle (the last creations' port detection), then the window: nothing is asked of the agent during it.
        await Task.Delay(TimeSpan.FromSeconds(3), ct).ConfigureAwait(false);
        var threadsBefore = Probe.ThreadTicks(agentPid);
        var serversBefore = pids.Sum(p => Proc.Stat(p)?.CpuTicks ?? 0);
        var agentTicks = await WindowAsync([agentPid], window, ct).ConfigureAwait(false);
        var serversAfter = pids.Sum(p => Proc.Stat(p)?.CpuTicks ?? 0);
        var threadsAfter = Probe.ThreadTicks(agentPid);
        r.Put("agent_servers_ticks", agentTicks);
        r.Put("servers_ticks", serversAfter - serversBefore);
        r.Put("rss_servers_kb", Proc.StatusKb(agentPid, "VmRSS"));
        r.Put("threads", threadsAfter.Count);
        var busiest = threadsAfter.Select(kv => (kv.Key, Ticks: kv.Value - threadsBefore.GetValueOrDefault(kv.Key))).Where(t => t.Ticks > 0)
            .OrderByDescending(t => t.Ticks).Take(6).Select(t => $"{t.Key}:{t.Ticks}");
        r.Put("agent_thread_ticks", string.Join(" ", busiest));

        // What the agent does meanwhile, by system call (after the window, so strace's own cost is not in the figure).
        if (options.GetOrDefault("strace", "") is { Length: > 0 } strace)
        {
            var start = new ProcessStartInfo("timeout") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var arg in new[] { "-s", "INT", options.Get("strace-s"), strace, "-c", "-f", "-o", options.Get("strace-out"), "-p", agentPid.ToString(CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(arg);
            }

            using var tracer = Process.Start(start) ?? throw new InvalidOperationException("could not start strace");
            var stderr = tracer.StandardError.ReadToEndAsync(ct);
            await tracer.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(options.GetInt("strace-s") + 30), ct).ConfigureAwait(false);
            if (tracer.ExitCode is not (0 or 124))
            {
                Console.WriteLine($"   servers: strace exited {tracer.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
            }
        }

        // The servers' health as the agent saw it over the window (one request, after it).
        var after = (await api.GetAsync("/servers", ct).ConfigureAwait(false)).GetProperty("servers").EnumerateArray().ToList();
        r.Put("healthy_after", after.Count(s => s.TryGetProperty("healthy", out var h) && h.ValueKind == JsonValueKind.True));
        r.Put("restarts_after", after.Sum(s => s.TryGetProperty("restart_count", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0));

        foreach (var slug in slugs)
        {
            var code = await api.DeleteAsync("/servers/" + slug, ct).ConfigureAwait(false);
            if (code is < 200 or > 299)
            {
                throw new InvalidOperationException($"DELETE /servers/{slug} answered {code}");
            }
        }

        await Probe.UntilAsync(() => Task.FromResult(pids.All(p => Proc.Stat(p) is null or { State: 'Z' or 'X' })), TimeSpan.FromSeconds(30),
            () => "the servers' processes to end after DELETE", ct).ConfigureAwait(false);
        r.Put("servers_left", pids.Count(p => Proc.Stat(p) is { State: not ('Z' or 'X') }));
        await r.WriteAsync(options.Get("out"), ct).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Sum of utime+stime of <paramref name="pids"/> over <paramref name="window"/> (ticks).</summary>
    private static async Task<long> WindowAsync(int[] pids, TimeSpan window, CancellationToken cancellationToken)
    {
        var before = pids.Sum(p => Proc.Stat(p)?.CpuTicks ?? 0);
        await Task.Delay(window, cancellationToken).ConfigureAwait(false);
        return pids.Sum(p => Proc.Stat(p)?.CpuTicks ?? 0) - before;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
