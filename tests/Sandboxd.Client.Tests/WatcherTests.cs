namespace Sandboxd.Client.Tests;

public sealed class WatcherTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task A_watcher_streams_changes_with_content_and_ends_when_destroyed()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("watch");
        await using var client = _agent.Client();

        await using var watcher = await client.Watchers.CreateAsync(dir, includeContent: true, ignored: ["*.tmp"], cancellationToken: ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "skip.tmp"), "ignored", ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "a.txt"), "hello", ct);

        var events = new List<FileChangedEvent>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await foreach (var e in watcher.ReadEventsAsync(timeout.Token))
        {
            events.Add(e);
            if (e.Path.EndsWith("a.txt", StringComparison.Ordinal))
            {
                break;
            }
        }

        var added = events[^1];
        added.Event.Should().Be("add");
        added.Path.Should().Be(Path.Combine(dir, "a.txt"));
        added.Content.Should().Be("hello");
        events.Should().NotContain(e => e.Path.EndsWith(".tmp", StringComparison.Ordinal));
        (await client.Watchers.ListAsync(ct)).Select(w => w.Id).Should().Contain(watcher.Id);
        (await client.Watchers.GetAsync(watcher.Id, ct)).IncludeContent.Should().BeTrue();

        await watcher.DestroyAsync(ct);

        var rest = new List<FileChangedEvent>();
        await foreach (var e in watcher.ReadEventsAsync(timeout.Token))
        {
            rest.Add(e); // the enumeration ends on watcher:destroyed
        }

        timeout.IsCancellationRequested.Should().BeFalse();
    }
}
