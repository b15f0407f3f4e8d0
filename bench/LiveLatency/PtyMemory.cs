using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;

namespace Sandboxd.Bench.Live;

/// <summary>
/// Agent memory with many idle PTYs. On a fresh agent: VmRSS when ready and at start (after a warm-up of 10 PTYs
/// created and deleted one at a time, which also times a DELETE with no other terminal); after N PTY terminals with /bin/sh were created
/// and the agent went idle (no socket); after one socket subscribed to all N channels (each gets its prompt replayed)
/// and the agent went idle again; after every terminal was deleted. Also the shells' own RSS and PSS (context), the
/// agent's fds and threads, how long creating and deleting took, and whether any process of the shells' sessions
/// survived the deletes. Results go to a key=value file for <c>report</c>.
/// </summary>
internal static class PtyMemory
{
    private const int AloneDeletes = 10;

    public static async Task<int> RunAsync(Options options)
    {
        var agentPid = options.GetInt("agent-pid");
        var count = Math.Max(1, options.GetInt("count"));
        var concurrency = Math.Max(1, options.GetInt("concurrency", 8));
        var shell = options.GetOrDefault("shell", "/bin/sh");
        var pidsFile = options.Get("pids-out");
        var results = new List<(string Key, string Value)>();
        void Put(string key, object value)
        {
            results.Add((key, Convert.ToString(value, CultureInfo.InvariantCulture)!));
            Console.WriteLine($"   rss: {key} = {value}");
        }

        using var api = new AgentApi(options.Get("url"), options.Get("token"), connections: Math.Max(concurrency, 16));
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        var ct = total.Token;

        // Every shell pid goes to pids-out as soon as it is known (run.sh's cleanup kills any that survive this tool).
        await using var pidLog = new StreamWriter(pidsFile, append: false) { AutoFlush = true };
        var pidGate = new Lock();
        void LogPid(int pid)
        {
            lock (pidGate)
            {
                pidLog.WriteLine(pid.ToString(CultureInfo.InvariantCulture));
            }
        }

        // Warm-up, and the reference for DELETE latency: a few PTYs created and deleted one at a time while no other
        // terminal exists. "At start" is measured after this (the create/delete code paths are then paged in).
        await api.GetAsync("/health", ct).ConfigureAwait(false);
        Put("rss_ready_kb", Proc.StatusKb(agentPid, "VmRSS"));
        var aloneMs = new List<double>();
        for (var i = 0; i < AloneDeletes; i++)
        {
            var data = await api.PostAsync("/terminals", "{\"pty\":true,\"shell\":" + Json.Str(shell) + "}", ct).ConfigureAwait(false);
            var id = data.GetProperty("id").GetString()!;
            LogPid(data.GetProperty("pid").GetInt32());
            await Task.Delay(200, ct).ConfigureAwait(false); // let the shell start (and print its prompt)
            var started = Clock.Now;
            var code = await api.DeleteAsync("/terminals/" + id, ct).ConfigureAwait(false);
            aloneMs.Add(Clock.Ms(started, Clock.Now));
            if (code is < 200 or > 299)
            {
                throw new InvalidOperationException($"DELETE /terminals/{id} answered {code}");
            }
        }

        aloneMs.Sort();
        await WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        Put("delete_alone_p50_ms", Math.Round(aloneMs[aloneMs.Count / 2], 1));
        Put("count", count);
        Put("rss_start_kb", Proc.StatusKb(agentPid, "VmRSS"));
        Put("fds_start", Proc.FdCount(agentPid));
        Put("threads_start", Proc.StatusKb(agentPid, "Threads"));

        // Create N PTYs, `concurrency` requests at a time.
        var ids = new string[count];
        var pids = new int[count];
        {
            var clock = Stopwatch.StartNew();
            using var throttle = new SemaphoreSlim(concurrency);
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await throttle.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    var data = await api.PostAsync("/terminals", "{\"pty\":true,\"shell\":" + Json.Str(shell) + "}", ct).ConfigureAwait(false);
                    ids[i] = data.GetProperty("id").GetString()!;
                    pids[i] = data.GetProperty("pid").GetInt32();
                    LogPid(pids[i]);
                }
                finally
                {
                    throttle.Release();
                }
            })).ConfigureAwait(false);
            Put("create_s", Math.Round(clock.Elapsed.TotalSeconds, 2));
        }

        // terminal:created is re-sent until +3.5 s after each create; wait that out, then for the agent to go quiet.
        await Task.Delay(TimeSpan.FromSeconds(4), ct).ConfigureAwait(false);
        await WaitIdleAsync(agentPid, TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
        var alive = pids.Count(p => Proc.Stat(p) is { State: not ('Z' or 'X') });
        if (alive != count)
        {
            throw new InvalidOperationException($"only {alive} of {count} shells are alive after creation");
        }

        Put("rss_idle_kb", Proc.StatusKb(agentPid, "VmRSS"));
        Put("fds_idle", Proc.FdCount(agentPid));
        Put("threads_idle", Proc.StatusKb(agentPid, "Threads"));
        Put("shells_rss_sum_kb", pids.Sum(p => Math.Max(0, Proc.StatusKb(p, "VmRSS"))));
        Put("shells_pss_sum_kb", pids.Sum(p => Math.Max(0, Proc.PssKb(p))));

        // One socket subscribed to every terminal: each subscription starts a pump that replays the prompt.
        using var socket = await api.ConnectSocketAsync(ct).ConfigureAwait(false);
        var reader = new FrameReader(socket);
        var outputSeen = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var destroyedSeen = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var readLoop = Task.Run(async () =>
        {
            while (true)
            {
                ReadOnlyMemory<byte> frame;
                try
                {
                    frame = await reader.ReceiveAsync(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException)
                {
                    return;
                }

                var message = LiveMessage.Parse(frame);
                if (message.Type == "terminal:output")
                {
                    outputSeen.AddOrUpdate(message.Channel, 1, (_, n) => n + 1);
                }
                else if (message.Type == "terminal:destroyed")
                {
                    destroyedSeen.AddOrUpdate(message.Channel, 1, (_, n) => n + 1);
                }
            }
        }, CancellationToken.None);
        foreach (var id in ids)
        {
            await reader.SendTextAsync(Json.Subscribe("terminal:" + id), ct).ConfigureAwait(false);
        }

        await UntilAsync(() => outputSeen.Count >= count, TimeSpan.FromSeconds(60), () => $"a prompt on every channel ({outputSeen.Count} of {count})", ct).ConfigureAwait(false);
        await WaitIdleAsync(agentPid, TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
        Put("rss_subscribed_kb", Proc.StatusKb(agentPid, "VmRSS"));
        Put("threads_subscribed", Proc.StatusKb(agentPid, "Threads"));

        // A few deletes one at a time first (what one client closing one terminal waits for while ~N others are open),
        // then every other terminal, several at a time (while subscribed: terminal:destroyed must arrive on every channel).
        var sequential = Math.Clamp(count / 50, Math.Min(5, count), 20);
        var sequentialMs = new List<double>();
        foreach (var id in ids.Take(sequential))
        {
            var started = Clock.Now;
            var code = await api.DeleteAsync("/terminals/" + id, ct).ConfigureAwait(false);
            sequentialMs.Add(Clock.Ms(started, Clock.Now));
            if (code is < 200 or > 299)
            {
                throw new InvalidOperationException($"DELETE /terminals/{id} answered {code}");
            }
        }

        sequentialMs.Sort();
        Put("sequential_deletes", sequential);
        Put("sequential_delete_p50_ms", Math.Round(sequentialMs[sequentialMs.Count / 2], 1));
        var deleteClock = Stopwatch.StartNew();
        var failures = new ConcurrentBag<string>();
        var deleteMs = new ConcurrentBag<double>();
        var deleteConcurrency = Math.Max(concurrency, 16);
        Put("delete_concurrency", deleteConcurrency);
        using (var throttle = new SemaphoreSlim(deleteConcurrency))
        {
            await Task.WhenAll(ids.Skip(sequential).Select(async id =>
            {
                await throttle.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    var started = Clock.Now;
                    var code = await api.DeleteAsync("/terminals/" + id, ct).ConfigureAwait(false);
                    deleteMs.Add(Clock.Ms(started, Clock.Now));
                    if (code is < 200 or > 299)
                    {
                        failures.Add($"{id}: {code}");
                    }
                }
                finally
                {
                    throttle.Release();
                }
            })).ConfigureAwait(false);
        }

        Put("delete_s", Math.Round(deleteClock.Elapsed.TotalSeconds, 2));
        var sortedDeletes = deleteMs.Order().ToArray();
        Put("delete_p50_ms", sortedDeletes.Length == 0 ? 0 : Math.Round(sortedDeletes[sortedDeletes.Length / 2], 1));
        Put("delete_max_ms", sortedDeletes.Length == 0 ? 0 : Math.Round(sortedDeletes[^1], 1));
        if (!failures.IsEmpty)
        {
            throw new InvalidOperationException($"{failures.Count} deletes failed: {string.Join(", ", failures.Take(5))}");
        }

        var sessions = pids.ToHashSet();
        int Left() => Proc.AllPids().Count(p => Proc.Stat(p) is { State: not ('Z' or 'X') } s && sessions.Contains(s.Session));
        await UntilAsync(() => Left() == 0, TimeSpan.FromSeconds(30), () => $"no process left in the shells' sessions ({Left()} left)", ct).ConfigureAwait(false);
        Put("processes_left", Left());
        Put("zombies_left", pids.Count(p => Proc.Stat(p) is { State: 'Z' }));
        await UntilAsync(() => destroyedSeen.Count >= count, TimeSpan.FromSeconds(30), () => $"terminal:destroyed on every channel ({destroyedSeen.Count} of {count})", ct).ConfigureAwait(false);
        Put("destroyed_events", destroyedSeen.Count);
        var listed = (await api.GetAsync("/terminals", ct).ConfigureAwait(false)).GetProperty("terminals").GetArrayLength();
        Put("terminals_listed_after_delete", listed);

        using (var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", closing.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // best effort
            }
        }

        await readLoop.WaitAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        await WaitIdleAsync(agentPid, TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
        Put("rss_after_delete_kb", Proc.StatusKb(agentPid, "VmRSS"));
        Put("fds_after_delete", Proc.FdCount(agentPid));
        Put("hwm_kb", Proc.StatusKb(agentPid, "VmHWM"));

        await File.WriteAllLinesAsync(options.Get("out"), results.Select(r => $"{r.Key}={r.Value}"), ct).ConfigureAwait(false);
        return listed == 0 ? 0 : throw new InvalidOperationException($"{listed} terminals still listed after deleting all");
    }

    /// <summary>Waits at least <paramref name="atLeast"/>, then until the agent used no CPU for a second (≤ 1 tick; at most 60 s).</summary>
    private static async Task WaitIdleAsync(int pid, TimeSpan atLeast, CancellationToken cancellationToken)
    {
        await Task.Delay(atLeast, cancellationToken).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = Proc.Stat(pid)?.CpuTicks ?? throw new InvalidOperationException($"agent {pid} is gone");
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
            var now = Proc.Stat(pid)?.CpuTicks ?? throw new InvalidOperationException($"agent {pid} is gone");
            if (now - last <= 1)
            {
                return;
            }

            last = now;
        }

        Console.WriteLine("   rss: WARNING the agent did not go idle within 60 s; measuring anyway");
    }

    private static async Task UntilAsync(Func<bool> done, TimeSpan timeout, Func<string> what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what()}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }
}
