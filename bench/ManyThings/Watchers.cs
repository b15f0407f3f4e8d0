using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using Sandboxd.Bench.Live;

namespace Sandboxd.Bench.Many;

/// <summary>
/// Row 3: N watchers (<c>POST /watchers</c>) over one tree. The agent's RSS, fds and inotify instances/watches with 1
/// and with N; and a change event's latency (a new file written in the tree → its <c>file:changed</c> read from one
/// socket subscribed to every watcher's channel) with 1 watcher, then with N present: to the first watcher's event and
/// to the last of all N copies. A watcher the agent refuses is counted with its answer and the run goes on.
/// </summary>
internal static class Watchers
{
    public static async Task<int> RunAsync(Options options)
    {
        var agentPid = options.GetInt("agent-pid");
        var count = options.GetInt("count");
        var samples = Math.Max(1, options.GetInt("samples", 50));
        var directory = Path.GetFullPath(options.Get("dir"));
        var relative = options.Get("rel");
        using var api = new AgentApi(options.Get("url"), options.Get("token"));
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var ct = total.Token;
        var r = new ResultFile();
        r.Put("count", count);
        var dirs = Directory.GetDirectories(directory, "*", SearchOption.AllDirectories).Length + 1;
        var files = Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Length;
        r.Put("tree_dirs", dirs);
        r.Put("tree_files", files);

        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_none_kb", Proc.StatusKb(agentPid, "VmRSS"));
        r.Put("fds_none", Proc.FdCount(agentPid));

        using var socket = await api.ConnectSocketAsync(ct).ConfigureAwait(false);
        var reader = new FrameReader(socket);
        var arrivals = new ConcurrentDictionary<(string Channel, string Name), long>();
        using var arrived = new SemaphoreSlim(0);
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var readLoop = Task.Run(async () =>
        {
            while (!stopReading.IsCancellationRequested)
            {
                ReadOnlyMemory<byte> frame;
                try
                {
                    frame = await reader.ReceiveAsync(stopReading.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException)
                {
                    return;
                }

                var at = Clock.Now;
                var message = LiveMessage.Parse(frame);
                if (message.Type == "file:changed" && message.Str("event") is "add" or "change")
                {
                    arrivals.TryAdd((message.Channel, Path.GetFileName(message.Str("path") ?? "")), at);
                    arrived.Release();
                }
            }
        }, CancellationToken.None);

        var ids = new List<string>();
        var channels = new List<string>();
        var refused = 0;
        var firstRefusal = "";
        async Task<bool> CreateAsync()
        {
            try
            {
                var watcher = await api.PostAsync("/watchers", "{\"path\":" + Json.Str(relative) + "}", ct).ConfigureAwait(false);
                ids.Add(watcher.GetProperty("id").GetString()!);
                var channel = watcher.GetProperty("channel").GetString()!;
                channels.Add(channel);
                await reader.SendTextAsync(Json.Subscribe(channel), ct).ConfigureAwait(false);
                return true;
            }
            catch (InvalidOperationException e) when (e.Message.StartsWith("POST", StringComparison.Ordinal))
            {
                refused++;
                if (firstRefusal.Length == 0)
                {
                    firstRefusal = $"watcher #{ids.Count + refused}: {e.Message}";
                }

                return false;
            }
        }

        var target = Path.Combine(directory, "hot");
        Directory.CreateDirectory(target);
        var sample = 0;
        async Task<(double First, double All)[]> MeasureAsync(string label)
        {
            var results = new (double, double)[samples];
            for (var i = -3; i < samples; i++)
            {
                var name = $"{label}-{sample++:D5}";
                var t0 = Clock.Now;
                await File.WriteAllBytesAsync(Path.Combine(target, name), "x\n"u8.ToArray(), ct).ConfigureAwait(false);
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (!channels.All(c => arrivals.ContainsKey((c, name))))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || readLoop.IsCompleted)
                    {
                        throw new TimeoutException($"{name}: {channels.Count(c => arrivals.ContainsKey((c, name)))} of {channels.Count} watchers reported it within 30 s (socket {socket.State})");
                    }

                    await arrived.WaitAsync(left, ct).ConfigureAwait(false);
                }

                if (i >= 0)
                {
                    results[i] = (Clock.Ms(t0, arrivals[(channels[0], name)]), Clock.Ms(t0, channels.Max(c => arrivals[(c, name)])));
                }
            }

            return results;
        }

        // One watcher.
        if (!await CreateAsync().ConfigureAwait(false))
        {
            throw new InvalidOperationException("the first watcher was refused: " + firstRefusal);
        }

        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_one_kb", Proc.StatusKb(agentPid, "VmRSS"));
        var (instancesOne, watchesOne) = Probe.Inotify(agentPid);
        r.Put("inotify_instances_one", instancesOne);
        r.Put("inotify_watches_one", watchesOne);
        var one = await MeasureAsync("one").ConfigureAwait(false);
        Samples.Write(options.Get("one-out"), one.Select(s => s.First));

        // N watchers (the first included).
        var creating = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 1; i < count; i++)
        {
            await CreateAsync().ConfigureAwait(false);
        }

        r.Put("create_s", Math.Round(creating.Elapsed.TotalSeconds, 2));
        r.Put("created", ids.Count);
        r.Put("refused", refused);
        r.Put("first_refusal", firstRefusal);
        Console.WriteLine($"   watchers: {ids.Count} created, {refused} refused{(refused > 0 ? " — first: " + firstRefusal : "")}");
        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_many_kb", Proc.StatusKb(agentPid, "VmRSS"));
        r.Put("fds_many", Proc.FdCount(agentPid));
        var (instancesMany, watchesMany) = Probe.Inotify(agentPid);
        r.Put("inotify_instances_many", instancesMany);
        r.Put("inotify_watches_many", watchesMany);
        r.Put("max_user_instances", File.ReadAllText("/proc/sys/fs/inotify/max_user_instances").Trim());
        r.Put("max_user_watches", File.ReadAllText("/proc/sys/fs/inotify/max_user_watches").Trim());
        var many = await MeasureAsync("many").ConfigureAwait(false);
        Samples.Write(options.Get("many-first-out"), many.Select(s => s.First));
        Samples.Write(options.Get("many-all-out"), many.Select(s => s.All));

        foreach (var id in ids)
        {
            var code = await api.DeleteAsync("/watchers/" + id, ct).ConfigureAwait(false);
            if (code is < 200 or > 299)
            {
                throw new InvalidOperationException($"DELETE /watchers/{id} answered {code}");
            }
        }

        await stopReading.CancelAsync().ConfigureAwait(false);
        await readLoop.WaitAsync(TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_after_delete_kb", Proc.StatusKb(agentPid, "VmRSS"));
        r.Put("fds_after_delete", Proc.FdCount(agentPid));
        r.Put("inotify_instances_after_delete", Probe.Inotify(agentPid).Instances);
        await r.WriteAsync(options.Get("out"), ct).ConfigureAwait(false);
        return 0;
    }
}
