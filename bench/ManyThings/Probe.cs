using System.Globalization;

namespace Sandboxd.Bench.Many;

using Sandboxd.Bench.Live;

/// <summary>/proc readings the three measurers share, beyond bench/LiveLatency's <see cref="Proc"/>.</summary>
internal static class Probe
{
    public static readonly long TicksPerSecond = 100; // USER_HZ on Linux (sysconf(_SC_CLK_TCK)), the unit of utime/stime

    /// <summary>utime+stime of a process in ticks (throws when it is gone).</summary>
    public static long Ticks(int pid) => Proc.Stat(pid)?.CpuTicks ?? throw new InvalidOperationException($"process {pid} is gone");

    /// <summary>utime+stime per thread name ("comm") of a process, summed over threads of the same name.</summary>
    public static Dictionary<string, long> ThreadTicks(int pid)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(task, "stat"));
                var open = text.IndexOf('(', StringComparison.Ordinal);
                var close = text.LastIndexOf(')');
                var name = text[(open + 1)..close];
                var rest = text[(close + 2)..].Split(' ');
                var ticks = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
                result[name] = result.GetValueOrDefault(name) + ticks;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // the thread ended meanwhile
            }
        }

        return result;
    }

    /// <summary>inotify instances and watches the process holds (the "inotify wd:" lines of its fds' fdinfo).</summary>
    public static (int Instances, int Watches) Inotify(int pid)
    {
        int instances = 0, watches = 0;
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is not "anon_inode:inotify")
                {
                    continue;
                }

                instances++;
                watches += File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // closed meanwhile
            }
        }

        return (instances, watches);
    }

    /// <summary>Waits at least <paramref name="atLeast"/>, then until the process used no CPU for a second (≤ 1 tick; at most 60 s).</summary>
    public static async Task WaitIdleAsync(int pid, TimeSpan atLeast, CancellationToken cancellationToken)
    {
        await Task.Delay(atLeast, cancellationToken).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = Ticks(pid);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
            var now = Ticks(pid);
            if (now - last <= 1)
            {
                return;
            }

            last = now;
        }

        Console.WriteLine($"   WARNING process {pid} did not go idle within 60 s; measuring anyway");
    }

    public static async Task UntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await done().ConfigureAwait(false))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what()}");
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>key=value result files (what run.sh hands to <c>report</c>).</summary>
internal sealed class ResultFile
{
    private readonly List<KeyValuePair<string, string>> _pairs = [];

    public void Put(string key, double value) => _pairs.Add(new(key, value.ToString(CultureInfo.InvariantCulture)));

    public void Put(string key, string value) => _pairs.Add(new(key, value.ReplaceLineEndings(" ")));

    public Task WriteAsync(string path, CancellationToken cancellationToken) =>
        File.WriteAllLinesAsync(path, _pairs.Select(p => $"{p.Key}={p.Value}"), cancellationToken);

    public static Dictionary<string, string> Read(string path) =>
        File.ReadAllLines(path).Where(l => l.Contains('=', StringComparison.Ordinal)).Select(l => l.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
}
