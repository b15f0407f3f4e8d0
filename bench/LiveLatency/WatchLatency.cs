using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Sandboxd.Bench.Live;

/// <summary>
/// Watch event latency. A directory inside the agent's root is watched twice at once: by a watcher of the agent
/// (<c>POST /watchers</c>, <c>file:changed</c> read on a subscribed JSON /ws socket) and by <c>inotifywait -m -e
/// close_write</c> run here as a child (its stdout line read by a dedicated thread). Per sample the measurer creates a
/// new file (libc open O_CREAT|O_TRUNC + write 64 bytes + close) and waits until both have reported it; each latency
/// runs from just before open() to the moment the report was read, on one Stopwatch (CLOCK_MONOTONIC). The agent folds
/// a file's create/modify events and reports <c>add</c> when the writer closes it (or 100 ms after its last write).
/// </summary>
internal static class WatchLatency
{
    private static readonly TimeSpan SampleTimeout = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(Options options)
    {
        var samples = Math.Max(1, options.GetInt("samples"));
        var warmup = options.GetInt("warmup");
        var directory = Path.GetFullPath(options.Get("dir"));
        var relative = options.Get("rel");
        using var api = new AgentApi(options.Get("url"), options.Get("token"));
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        Directory.CreateDirectory(directory);

        var ours = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var peer = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var oursEvents = 0;
        var oursUnexpected = new ConcurrentBag<string>();
        using var arrived = new SemaphoreSlim(0);

        // inotifywait, the peer. Its pid goes to --pid-file so run.sh can stop it even if this tool is killed.
        var start = new ProcessStartInfo(options.GetOrDefault("inotifywait", "inotifywait"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in new[] { "-m", "-e", "close_write", "--format", "%w%f", directory })
        {
            start.ArgumentList.Add(arg);
        }

        using var inotifywait = Process.Start(start) ?? throw new InvalidOperationException("could not start inotifywait");
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Kill(inotifywait));
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => Kill(inotifywait));
        if (options.GetOrDefault("pid-file", "") is { Length: > 0 } pidFile)
        {
            await File.WriteAllTextAsync(pidFile, inotifywait.Id + "\n", total.Token).ConfigureAwait(false);
        }

        try
        {
            var established = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var stderr = new StringBuilder();
            var errThread = new Thread(() =>
            {
                while (inotifywait.StandardError.ReadLine() is { } line)
                {
                    lock (stderr)
                    {
                        stderr.AppendLine(line);
                    }

                    if (line.Contains("Watches established", StringComparison.Ordinal))
                    {
                        established.TrySetResult();
                    }
                }

                established.TrySetException(new InvalidOperationException("inotifywait ended: " + stderr));
            }) { IsBackground = true, Name = "inotifywait stderr" };
            errThread.Start();
            var outThread = new Thread(() =>
            {
                while (inotifywait.StandardOutput.ReadLine() is { } line)
                {
                    var at = Clock.Now;
                    peer.TryAdd(Path.GetFileName(line), at);
                    arrived.Release();
                }
            }) { IsBackground = true, Name = "inotifywait stdout" };
            outThread.Start();
            await established.Task.WaitAsync(TimeSpan.FromSeconds(15), total.Token).ConfigureAwait(false);

            // Ours: a watcher on the same directory, one socket subscribed to its channel.
            using var socket = await api.ConnectSocketAsync(total.Token).ConfigureAwait(false);
            var reader = new FrameReader(socket);
            var watcher = await api.PostAsync("/watchers", "{\"path\":" + Json.Str(relative) + "}", total.Token).ConfigureAwait(false);
            var watcherId = watcher.GetProperty("id").GetString()!;
            var channel = watcher.GetProperty("channel").GetString()!;
            await reader.SendTextAsync(Json.Subscribe(channel), total.Token).ConfigureAwait(false);
            var wsLoop = Task.Run(async () =>
            {
                while (!total.IsCancellationRequested)
                {
                    ReadOnlyMemory<byte> frame;
                    try
                    {
                        frame = await reader.ReceiveAsync(total.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is WebSocketException or OperationCanceledException)
                    {
                        return;
                    }

                    var at = Clock.Now;
                    var message = LiveMessage.Parse(frame);
                    if (message.Type != "file:changed" || message.Channel != channel)
                    {
                        continue;
                    }

                    Interlocked.Increment(ref oursEvents);
                    var name = Path.GetFileName(message.Str("path") ?? "");
                    if (message.Str("event") is not ("add" or "change") || !ours.TryAdd(name, at))
                    {
                        oursUnexpected.Add($"{message.Str("event")} {name}");
                    }

                    arrived.Release();
                }
            }, CancellationToken.None);

            var peerSamples = new double[samples];
            var oursSamples = new double[samples];
            var payload = new byte[64];
            payload.AsSpan().Fill((byte)'x');
            payload[^1] = (byte)'\n';
            for (var i = -warmup; i < samples; i++)
            {
                var name = i < 0 ? $"warm-{-i:D5}" : $"file-{i:D5}";
                var path = Path.Combine(directory, name);
                var t0 = Clock.Now;
                WriteFile(path, payload);
                var deadline = DateTime.UtcNow + (i == -warmup ? TimeSpan.FromSeconds(30) : SampleTimeout);
                long oursAt, peerAt;
                while (!(ours.TryGetValue(name, out oursAt) & peer.TryGetValue(name, out peerAt)))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || wsLoop.IsCompleted || inotifywait.HasExited)
                    {
                        throw new TimeoutException($"{name}: agent event {(ours.ContainsKey(name) ? "seen" : "MISSING")}, "
                            + $"inotifywait line {(peer.ContainsKey(name) ? "seen" : "MISSING")} after {SampleTimeout.TotalSeconds:0} s "
                            + $"(socket {socket.State}, inotifywait {(inotifywait.HasExited ? "exited" : "running")})");
                    }

                    await arrived.WaitAsync(left, total.Token).ConfigureAwait(false);
                }

                if (i >= 0)
                {
                    oursSamples[i] = Clock.Ms(t0, oursAt);
                    peerSamples[i] = Clock.Ms(t0, peerAt);
                }
            }

            // Let a duplicate report (if any) arrive before counting.
            await Task.Delay(300, total.Token).ConfigureAwait(false);
            Samples.Write(options.Get("out"), oursSamples);
            Samples.Write(options.Get("peer-out"), peerSamples);
            Console.WriteLine($"   watch: watcher {watcherId}; {oursEvents} file:changed event(s) for {samples + warmup} files"
                + (oursUnexpected.IsEmpty ? "" : $"; unexpected: {string.Join(", ", oursUnexpected.Take(5))}"));

            var code = await api.DeleteAsync("/watchers/" + watcherId, total.Token).ConfigureAwait(false);
            if (code is < 200 or > 299)
            {
                throw new InvalidOperationException($"DELETE /watchers/{watcherId} answered {code}");
            }

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

            await total.CancelAsync().ConfigureAwait(false);
            await wsLoop.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            Kill(inotifywait);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }

    /// <summary>open + write + close with libc, nothing else (no fstat/flock as a .NET FileStream would add).</summary>
    private static unsafe void WriteFile(string path, byte[] payload)
    {
        var fd = Native.Check(Native.Open(path, Native.O_WRONLY | Native.O_CREAT | Native.O_TRUNC | Native.O_CLOEXEC, 420 /* 0644 */), "open " + path);
        fixed (byte* p = payload)
        {
            if (Native.Write(fd, p, payload.Length) != payload.Length)
            {
                Native.Close(fd);
                throw new InvalidOperationException("write " + path + " failed");
            }
        }

        Native.Check(Native.Close(fd), "close " + path);
    }
}
