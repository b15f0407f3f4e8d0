using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Watch;

/// <summary>
/// Every watcher of the agent shares one inotify instance (issue 17 item 6: 1,000 watchers over one tree). The kernel's
/// side is read from <c>/proc/PID/fd</c> (the <c>anon_inode:inotify</c> descriptors) and <c>/proc/PID/fdinfo</c> (one
/// <c>inotify wd:</c> line per kernel watch), so the tests see what the kernel holds, not what the agent says.
/// </summary>
public sealed class SharedInotifyTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(15);
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private string NewTree(params string[] dirs)
    {
        var root = Path.Combine(Agent.Root, "si-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        foreach (var dir in dirs)
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        return root;
    }

    private async Task<(string Id, string Channel)> CreateAsync(string path, CancellationToken ct, string extra = "")
    {
        var response = await Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(path)}}{{extra}}}""", ct);
        response.Code.Should().Be(201, response.Describe());
        response.Data.GetProperty("mode").GetString().Should().Be("inotify", response.Describe());
        return (response.Data.GetProperty("id").GetString()!, response.Data.GetProperty("channel").GetString()!);
    }

    private async Task DeleteAsync(string id, CancellationToken ct)
    {
        var response = await Client.DeleteAsync($"/watchers/{id}", ct);
        response.Code.Should().Be(204, response.Describe());
    }

    private static Func<LiveFrame, bool> Event(string channel, string kind, string path) =>
        f => f.Is("file:changed", channel) && f.Str("event") == kind && f.Str("path") == path;

    private static IEnumerable<string> Paths(LiveSocket socket, string channel, int from = 0) =>
        socket.Frames.Skip(from).Where(f => f.Is("file:changed", channel)).Select(f => f.Str("event") + " " + f.Str("path"));

    [Fact(Timeout = 300_000)]
    public async Task More_watchers_than_the_instance_limit_share_one_inotify_instance_and_each_reports_a_change()
    {
        var ct = TestContext.Current.CancellationToken;
        // More than fs.inotify.max_user_instances (128 by default), which capped the agent when each watcher had its own
        // instance; bounded, for hosts that raised the limit a lot.
        var limit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_user_instances").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var count = Math.Clamp(limit + 50, 300, 1000);
        var root = NewTree("src", "src/lib", "docs");
        var before = InotifyFds.Read(Agent.Pid);

        var watchers = new List<(string Id, string Channel)>(count);
        for (var i = 0; i < count; i++)
        {
            watchers.Add(await CreateAsync(root, ct));
        }

        var during = InotifyFds.Read(Agent.Pid);
        during.Instances.Should().Be(1, $"{count} watchers share the agent's one inotify instance");
        (during.Watches - before.Watches).Should().Be(4, "the tree's 4 directories are watched once, whatever the number of watchers");

        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        foreach (var (_, channel) in watchers)
        {
            await socket.SubscribeAsync(channel, ct);
        }

        var file = Path.Combine(root, "src", "lib", "changed.txt");
        await File.WriteAllTextAsync(file, "x", ct);
        foreach (var (id, channel) in watchers)
        {
            await socket.WaitForAsync(Event(channel, "add", file), TimeSpan.FromSeconds(60), $"add on watcher {id}", ct);
        }

        foreach (var (id, _) in watchers)
        {
            await DeleteAsync(id, ct);
        }

        InotifyFds.Read(Agent.Pid).Watches.Should().Be(before.Watches, "deleting every watcher releases every watch they added");
    }

    [Theory(Timeout = 60_000)]
    [InlineData("outer")]
    [InlineData("inner")]
    public async Task Overlapping_trees_share_watches_and_deleting_one_watcher_releases_only_what_it_alone_held(string deleted)
    {
        var ct = TestContext.Current.CancellationToken;
        // outer watches root (not "skip"): root, a, a/b, c. inner watches a: a, a/b, a/skip. Shared: a, a/b.
        var root = NewTree("a/b", "a/skip", "c");
        var before = InotifyFds.Read(Agent.Pid).Watches;
        var (outerId, outer) = await CreateAsync(root, ct, ""","ignored":["skip"]""");
        var (innerId, inner) = await CreateAsync(Path.Combine(root, "a"), ct);
        (InotifyFds.Read(Agent.Pid).Watches - before).Should().Be(5, "root, a, a/b, a/skip and c: the shared a and a/b once");
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(outer, ct);
        await socket.SubscribeAsync(inner, ct);

        var shared = Path.Combine(root, "a", "b", "shared.txt");
        await File.WriteAllTextAsync(shared, "x", ct);
        await socket.WaitForAsync(Event(outer, "add", shared), Quick, "add in a/b on the outer watcher", ct);
        await socket.WaitForAsync(Event(inner, "add", shared), Quick, "add in a/b on the inner watcher", ct);
        var outerOnly = Path.Combine(root, "c", "outer-only.txt");
        await File.WriteAllTextAsync(outerOnly, "x", ct);
        var innerOnly = Path.Combine(root, "a", "skip", "inner-only.txt");
        await File.WriteAllTextAsync(innerOnly, "x", ct);
        await socket.WaitForAsync(Event(outer, "add", outerOnly), Quick, "add in c on the outer watcher", ct);
        await socket.WaitForAsync(Event(inner, "add", innerOnly), Quick, "add in a/skip on the inner watcher", ct);

        var (goneId, gone, keptId, kept, onlyGone) = deleted == "outer" ? (outerId, outer, innerId, inner, 2) : (innerId, inner, outerId, outer, 1);
        var beforeDelete = InotifyFds.Read(Agent.Pid).Watches;
        await DeleteAsync(goneId, ct);
        await socket.WaitForAsync("watcher:destroyed", gone, Quick, ct);
        (beforeDelete - InotifyFds.Read(Agent.Pid).Watches).Should().Be(onlyGone,
            deleted == "outer" ? "root and c were the outer watcher's alone" : "a/skip was the inner watcher's alone");
        var mark = socket.Count;

        // The shared directories still report to the watcher that is left.
        var after = Path.Combine(root, "a", "b", "after.txt");
        await File.WriteAllTextAsync(after, "x", ct);
        await socket.WaitForAsync(Event(kept, "add", after), Quick, "add in a/b on the watcher that is left", ct, mark);
        Directory.CreateDirectory(Path.Combine(root, "a", "b", "new"));
        await socket.WaitForAsync(Event(kept, "addDir", Path.Combine(root, "a", "b", "new")), Quick, "addDir in a/b on the watcher that is left", ct, mark);
        Paths(socket, gone, mark).Should().BeEmpty("a deleted watcher reports nothing");

        await DeleteAsync(keptId, ct);
        InotifyFds.Read(Agent.Pid).Watches.Should().Be(before, "both watchers gone: every watch released");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_directory_deleted_under_two_watchers_is_reported_by_both_and_both_watch_it_again_when_it_returns()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewTree("a/d/e");
        var before = InotifyFds.Read(Agent.Pid).Watches;
        var (outerId, outer) = await CreateAsync(root, ct);
        var (innerId, inner) = await CreateAsync(Path.Combine(root, "a"), ct);
        (InotifyFds.Read(Agent.Pid).Watches - before).Should().Be(4, "root, a, a/d, a/d/e");
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(outer, ct);
        await socket.SubscribeAsync(inner, ct);
        var d = Path.Combine(root, "a", "d");
        await File.WriteAllTextAsync(Path.Combine(d, "e", "f.txt"), "x", ct);
        await socket.WaitForAsync(Event(outer, "add", Path.Combine(d, "e", "f.txt")), Quick, "add in a/d/e (outer)", ct);
        await socket.WaitForAsync(Event(inner, "add", Path.Combine(d, "e", "f.txt")), Quick, "add in a/d/e (inner)", ct);

        Directory.Delete(d, recursive: true);

        await socket.WaitForAsync(Event(outer, "unlinkDir", d), Quick, "unlinkDir a/d (outer)", ct);
        await socket.WaitForAsync(Event(inner, "unlinkDir", d), Quick, "unlinkDir a/d (inner)", ct);
        (InotifyFds.Read(Agent.Pid).Watches - before).Should().Be(2, "the kernel dropped a/d and a/d/e");

        // Both go on, and both watch the directory when it comes back (a new inode, a new wd, held by both).
        var mark = socket.Count;
        Directory.CreateDirectory(d);
        await socket.WaitForAsync(Event(outer, "addDir", d), Quick, "addDir a/d again (outer)", ct, mark);
        await socket.WaitForAsync(Event(inner, "addDir", d), Quick, "addDir a/d again (inner)", ct, mark);
        var again = Path.Combine(d, "again.txt");
        await File.WriteAllTextAsync(again, "x", ct);
        await socket.WaitForAsync(Event(outer, "add", again), Quick, "add in the new a/d (outer)", ct, mark);
        await socket.WaitForAsync(Event(inner, "add", again), Quick, "add in the new a/d (inner)", ct, mark);
        (InotifyFds.Read(Agent.Pid).Watches - before).Should().Be(3, "root, a and the new a/d");

        await DeleteAsync(innerId, ct);
        var last = Path.Combine(d, "last.txt");
        await File.WriteAllTextAsync(last, "x", ct);
        await socket.WaitForAsync(Event(outer, "add", last), Quick, "add in a/d after the inner watcher went", ct, mark);
        await DeleteAsync(outerId, ct);
        InotifyFds.Read(Agent.Pid).Watches.Should().Be(before);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_queue_overflow_reaches_every_watcher_and_each_rescans_its_tree()
    {
        var ct = TestContext.Current.CancellationToken;
        // The one queue holds max_queued_events; a file created and closed is two events (IN_CREATE, IN_CLOSE_WRITE).
        var queued = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        if (queued > 50_000)
        {
            Assert.Skip($"fs.inotify.max_queued_events is {queued}: too many files to overflow it in a test");
        }

        var busy = NewTree();
        var quiet = NewTree("x");
        // The burst's files are ignored by the watcher (the kernel still queues their events): thousands of file:changed
        // frames would fill the socket's queue, and the agent drops a socket that does not keep up.
        var (busyId, busyChannel) = await CreateAsync(busy, ct, ""","ignored":["f*"]""");
        var (quietId, quietChannel) = await CreateAsync(quiet, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(busyChannel, ct);
        await socket.SubscribeAsync(quietChannel, ct);
        var files = (queued / 2) + 1000;
        var last = Path.Combine(busy, "last.txt");

        // Stopped, the agent reads nothing: the kernel queue fills and ends with IN_Q_OVERFLOW.
        await SignalAsync(Agent.Pid, "STOP", ct);
        try
        {
            for (var i = 0; i < files; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(busy, $"f{i:D6}"), [], ct);
            }

            await File.WriteAllTextAsync(last, "x", ct); // its events come after the overflow: dropped
        }
        finally
        {
            await SignalAsync(Agent.Pid, "CONT", CancellationToken.None);
        }

        Func<LiveFrame, bool> Overflow(string channel) =>
            f => f.Is("watcher:warning", channel) && (f.Str("message") ?? "").Contains("overflowed", StringComparison.Ordinal);
        await socket.WaitForAsync(Overflow(busyChannel), TimeSpan.FromSeconds(60), "the overflow warning on the busy watcher", ct);
        await socket.WaitForAsync(Overflow(quietChannel), TimeSpan.FromSeconds(60), "the overflow warning on the quiet watcher (its tree did not change)", ct);
        // last.txt's events were dropped by the kernel: only the busy watcher's rescan can report it.
        await socket.WaitForAsync(Event(busyChannel, "add", last), TimeSpan.FromSeconds(60), "add of last.txt, from the rescan", ct);
        socket.Closed.Should().BeFalse();

        var mark = socket.Count;
        var after = Path.Combine(quiet, "x", "after.txt");
        await File.WriteAllTextAsync(after, "x", ct);
        await socket.WaitForAsync(Event(quietChannel, "add", after), Quick, "add on the quiet watcher after the overflow", ct, mark);
        await DeleteAsync(busyId, ct);
        await DeleteAsync(quietId, ct);
    }

    private static async Task SignalAsync(int pid, string signal, CancellationToken ct)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(10), ct);
        kill.ExitCode.Should().Be(0, $"kill -{signal} {pid}");
    }

    /// <summary>The agent's inotify descriptors and the kernel watches on them, from /proc.</summary>
    private readonly record struct InotifyFds(int Instances, int Watches)
    {
        public static InotifyFds Read(int pid)
        {
            var instances = 0;
            var watches = 0;
            foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
            {
                string? target;
                string[] info;
                try
                {
                    target = new FileInfo(fd).LinkTarget;
                    if (target != "anon_inode:inotify")
                    {
                        continue;
                    }

                    info = File.ReadAllLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // closed meanwhile
                }

                instances++;
                watches += info.Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }

            return new InotifyFds(instances, watches);
        }
    }
}
