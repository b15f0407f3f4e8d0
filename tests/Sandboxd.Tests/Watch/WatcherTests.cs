using System.Text;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Watch;

/// <summary>File watchers over the socket (http §9): recursive events with absolute paths, ignores, content, backlog.</summary>
public sealed class WatcherTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private string NewDir()
    {
        var dir = Path.Combine(Agent.Root, "w-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private async Task<(string Id, string Channel)> CreateAsync(string path, CancellationToken ct, string extra = "")
    {
        var response = await Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(path)}}{{extra}}}""", ct);
        response.Code.Should().BeOneOf([200, 201], response.Describe());
        var data = response.Data;
        data.GetProperty("status").GetString().Should().Be("active");
        data.GetProperty("ignored").ValueKind.Should().Be(JsonValueKind.Array);
        data.TryGetProperty("includeContent", out _).Should().BeTrue();
        var id = data.GetProperty("id").GetString()!;
        var channel = data.GetProperty("channel").GetString()!;
        channel.Should().Be("watcher:" + id);
        return (id, channel);
    }

    private static Func<LiveFrame, bool> Event(string channel, string kind, string path) =>
        f => f.Is("file:changed", channel) && f.Str("event") == kind && f.Str("path") == path;

    private static IEnumerable<(string Event, string Path)> Events(LiveSocket socket, string channel) =>
        socket.Frames.Where(f => f.Is("file:changed", channel)).Select(f => (f.Str("event")!, f.Str("path")!));

    [Fact(Timeout = 40_000)]
    public async Task Recursive_add_change_unlink_adddir_and_unlinkdir_arrive_with_absolute_paths()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var (_, channel) = await CreateAsync(root, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);

        var sub = Path.Combine(root, "sub");
        Directory.CreateDirectory(sub);
        await socket.WaitForAsync(Event(channel, "addDir", sub), Quick, "addDir sub", ct);
        var deep = Path.Combine(sub, "deeper");
        Directory.CreateDirectory(deep);
        await socket.WaitForAsync(Event(channel, "addDir", deep), Quick, "addDir sub/deeper", ct);
        var file = Path.Combine(deep, "f.txt");
        await File.WriteAllTextAsync(file, "one", ct);
        var addAt = await socket.WaitIndexAsync(Event(channel, "add", file), Quick, "add f.txt", ct);
        await File.AppendAllTextAsync(file, "two", ct);
        await socket.WaitForAsync(Event(channel, "change", file), Quick, "change f.txt", ct, addAt + 1);
        File.Delete(file);
        await socket.WaitForAsync(Event(channel, "unlink", file), Quick, "unlink f.txt", ct);
        Directory.Delete(sub, recursive: true);
        await socket.WaitForAsync(Event(channel, "unlinkDir", sub), Quick, "unlinkDir sub", ct);

        Events(socket, channel).Should().OnlyContain(e => Path.IsPathRooted(e.Path) && e.Path.StartsWith(root + "/", StringComparison.Ordinal));
    }

    [Fact(Timeout = 40_000)]
    public async Task Ignored_globs_produce_no_events_and_no_inotify_watch_for_ignored_directories()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        Directory.CreateDirectory(Path.Combine(root, "node_modules", "pkg", "lib"));
        Directory.CreateDirectory(Path.Combine(root, "src"));
        var watchesBefore = InotifyWatchCount(Agent.Pid);
        var (id, channel) = await CreateAsync(root, ct, ""","ignored":["node_modules","*.log"]""");
        var watchesAfter = InotifyWatchCount(Agent.Pid);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);

        await File.WriteAllTextAsync(Path.Combine(root, "node_modules", "pkg", "index.js"), "x", ct);
        await File.WriteAllTextAsync(Path.Combine(root, "node_modules", "pkg", "lib", "deep.js"), "x", ct);
        Directory.CreateDirectory(Path.Combine(root, "src", "node_modules"));
        await File.WriteAllTextAsync(Path.Combine(root, "src", "node_modules", "n.js"), "x", ct);
        await File.WriteAllTextAsync(Path.Combine(root, "debug.log"), "x", ct);
        await File.WriteAllTextAsync(Path.Combine(root, "src", "app.log"), "x", ct);
        var sentinel = Path.Combine(root, "src", "sentinel.txt");
        await File.WriteAllTextAsync(sentinel, "x", ct);
        await socket.WaitForAsync(Event(channel, "add", sentinel), Quick, "add of the sentinel", ct);

        Events(socket, channel).Select(e => e.Path).Should().NotContain(p => p.Contains("node_modules", StringComparison.Ordinal) || p.EndsWith(".log", StringComparison.Ordinal),
            "ignored paths produce nothing; got " + string.Join(", ", Events(socket, channel)));
        if (watchesBefore is { } before && watchesAfter is { } after)
        {
            // root and src only: node_modules, node_modules/pkg and node_modules/pkg/lib get no watch.
            (after - before).Should().Be(2, "one inotify watch per non-ignored directory");
        }

        var delete = await Client.DeleteAsync($"/watchers/{id}", ct);
        delete.Code.Should().BeOneOf([200, 204]);
    }

    /// <summary>Sum of <c>inotify wd:</c> lines over the agent's inotify fds (null when /proc does not show them).</summary>
    private static int? InotifyWatchCount(int pid)
    {
        try
        {
            var total = 0;
            var found = false;
            foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
            {
                string[] lines;
                try
                {
                    lines = File.ReadAllLines(fd);
                }
                catch (IOException)
                {
                    continue;
                }

                var watches = lines.Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
                if (watches > 0)
                {
                    found = true;
                }

                total += watches;
            }

            return found ? total : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [Theory(Timeout = 40_000)]
    [InlineData(null)]
    [InlineData("base64")]
    public async Task Include_content_sends_the_file_text_or_its_base64(string? encoding)
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var extra = ""","includeContent":true""" + (encoding is null ? "" : $$""","encoding":"{{encoding}}" """);
        var (_, channel) = await CreateAsync(root, ct, extra);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);
        var file = Path.Combine(root, "c.txt");
        var text = "héllo wörld ✓\n";

        await File.WriteAllTextAsync(file, text, ct);

        var add = await socket.WaitForAsync(Event(channel, "add", file), Quick, "add with content", ct);
        if (encoding is null)
        {
            add.Str("content").Should().Be(text);
            (add.Str("encoding") is null or "raw" or "utf8" or "utf-8").Should().BeTrue();
        }
        else
        {
            add.Str("encoding").Should().Be("base64");
            Encoding.UTF8.GetString(Convert.FromBase64String(add.Str("content")!)).Should().Be(text);
        }

        Directory.CreateDirectory(Path.Combine(root, "d"));
        var dir = await socket.WaitForAsync(Event(channel, "addDir", Path.Combine(root, "d")), Quick, "addDir", ct);
        dir.Str("content").Should().BeNull("content is only for regular files");
    }

    [Fact(Timeout = 40_000)]
    public async Task A_file_created_and_written_within_100_ms_gives_exactly_one_add()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var (_, channel) = await CreateAsync(root, ct, ""","includeContent":true""");
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);
        var file = Path.Combine(root, "quick.txt");

        await using (var stream = new FileStream(file, FileMode.CreateNew))
        {
            await stream.WriteAsync("part1-"u8.ToArray(), ct);
            await stream.FlushAsync(ct);
            await stream.WriteAsync("part2"u8.ToArray(), ct);
        }

        var sentinel = Path.Combine(root, "zz-sentinel");
        await socket.WaitForAsync(Event(channel, "add", file), Quick, "add quick.txt", ct);
        await File.WriteAllTextAsync(sentinel, "", ct);
        await socket.WaitForAsync(Event(channel, "add", sentinel), Quick, "add sentinel", ct);

        Events(socket, channel).Where(e => e.Path == file).Select(e => e.Event).Should().Equal(["add"]);
        socket.Frames.First(Event(channel, "add", file)).Str("content").Should().Be("part1-part2");
    }

    [Fact(Timeout = 40_000)]
    public async Task A_file_replaced_through_post_files_gives_change_and_no_temporary_file_event()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var file = Path.Combine(root, "replaced.txt");
        await File.WriteAllTextAsync(file, "old", ct);
        var (_, channel) = await CreateAsync(root, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);

        await Client.WriteFileAsync(file, "new content", ct);

        await socket.WaitForAsync(Event(channel, "change", file), Quick, "change of replaced.txt", ct);
        var sentinel = Path.Combine(root, "zz-sentinel");
        await File.WriteAllTextAsync(sentinel, "", ct);
        await socket.WaitForAsync(Event(channel, "add", sentinel), Quick, "add sentinel", ct);
        Events(socket, channel).Should().NotContain(e => e.Path.Contains(".sandboxd-", StringComparison.Ordinal) || e.Path.EndsWith(".tmp", StringComparison.Ordinal));
        Events(socket, channel).Where(e => e.Path == file).Select(e => e.Event).Should().NotContain(["unlink", "add"], "an atomic replace is a change");
    }

    [Fact(Timeout = 40_000)]
    public async Task Events_published_before_anyone_subscribes_are_delivered_on_subscribe()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var (_, witness) = await CreateAsync(root, ct);
        var (_, channel) = await CreateAsync(root, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(witness, ct);
        var file = Path.Combine(root, "early.txt");

        await File.WriteAllTextAsync(file, "early", ct);
        // The subscribed watcher on the same directory proves the agent has published the event; the other one has no
        // subscriber, so its copy went to the channel backlog.
        await socket.WaitForAsync(Event(witness, "add", file), Quick, "add on the witness channel", ct);
        socket.Frames.Should().NotContain(f => f.Channel == channel);
        await socket.SubscribeAsync(channel, ct);

        await socket.WaitForAsync(Event(channel, "add", file), Quick, "add from the backlog", ct);
        Events(socket, channel).Where(e => e.Path == file).Should().ContainSingle();
    }

    [Fact(Timeout = 40_000)]
    public async Task Delete_publishes_watcher_destroyed_and_the_watcher_is_gone()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var (id, channel) = await CreateAsync(root, ct);
        await using var socket = await LiveSocket.ConnectAsync(Agent, ct);
        await socket.SubscribeAsync(channel, ct);

        var delete = await Client.DeleteAsync($"/watchers/{id}", ct);

        delete.Code.Should().BeOneOf([200, 204], delete.Describe());
        var destroyed = await socket.WaitForAsync("watcher:destroyed", channel, Quick, ct);
        destroyed.Str("id").Should().Be(id);
        (await Client.GetAsync($"/watchers/{id}", ct)).ShouldBeError(404);
        (await Client.DeleteAsync($"/watchers/{id}", ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_path_is_404_and_a_regular_file_is_400()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = NewDir();
        var file = Path.Combine(root, "plain.txt");
        await File.WriteAllTextAsync(file, "x", ct);

        (await Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(Path.Combine(root, "nope"))}}}""", ct)).ShouldBeError(404);
        (await Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(file)}}}""", ct)).ShouldBeError(400);
    }
}
