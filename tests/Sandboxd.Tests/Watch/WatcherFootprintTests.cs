using System.Globalization;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Watch;

/// <summary>
/// Issue 17 item 6: many watchers over one tree. Watchers of the same directory and ignore list share one index of
/// the tree (ADR 0019), so the agent's memory does not grow with a copy of the tree per watcher, and deleting them
/// leaves nothing counted or watched. Each test starts its own agent, so its memory is this test's alone.
/// </summary>
public sealed class WatcherFootprintTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>20 directories × 100 files with long names: ≈ 2,000 paths of ≈ 100 characters in a watcher's index.</summary>
    private static string NewTree(AgentProcess agent)
    {
        var root = Path.Combine(agent.Root, "footprint-tree");
        for (var d = 0; d < 20; d++)
        {
            var dir = Path.Combine(root, $"directory-with-a-rather-long-name-{d:D3}");
            Directory.CreateDirectory(dir);
            for (var f = 0; f < 100; f++)
            {
                File.WriteAllBytes(Path.Combine(dir, $"a-file-whose-name-is-long-enough-to-count-{f:D4}.txt"), []);
            }
        }

        return root;
    }

    private static async Task<string> CreateAsync(AgentProcess agent, string path)
    {
        var response = await agent.Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(path)}}}""", Ct);
        response.Code.Should().Be(201, response.Describe());
        return response.Data.GetProperty("id").GetString()!;
    }

    private static long RssKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))[6..].Trim().Split(' ')[0],
            CultureInfo.InvariantCulture);

    private static int KernelWatches(int pid) =>
        Directory.EnumerateFiles($"/proc/{pid}/fdinfo").Sum(f =>
        {
            try
            {
                return File.ReadLines(f).Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                return 0; // closed meanwhile
            }
        });

    private static async Task<string?> OpenWatchersAsync(AgentProcess agent)
    {
        using var response = await agent.Client.Http.GetAsync("/metrics", Ct);
        var scrape = await response.Content.ReadAsStringAsync(Ct);
        return scrape.Split('\n').FirstOrDefault(l => l.StartsWith("sandboxd_watchers_open ", StringComparison.Ordinal))?["sandboxd_watchers_open ".Length..];
    }

    [Fact(Timeout = 300_000)]
    public async Task Three_hundred_watchers_of_one_tree_share_its_index_and_deleting_them_leaves_nothing_counted_or_watched()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        var root = NewTree(agent);
        var watchesBefore = KernelWatches(agent.Pid);
        var first = await CreateAsync(agent, root); // warms up the routes, the JSON and the inotify instance
        var rssOne = RssKb(agent.Pid);

        var ids = new List<string> { first };
        for (var i = 0; i < 300; i++)
        {
            ids.Add(await CreateAsync(agent, root));
        }

        // A copy of the ≈ 2,000-path index per watcher was ≈ 0.5 MB each: 150 MB for 300. Shared, the 300 cost their
        // records; 20 MB leaves room for the GC's own growth.
        var grown = (RssKb(agent.Pid) - rssOne) / 1024.0;
        grown.Should().BeLessThan(20, $"300 more watchers of one tree grew the agent by {grown:F1} MB");
        (KernelWatches(agent.Pid) - watchesBefore).Should().Be(21, "the root and its 20 directories, watched once");
        (await OpenWatchersAsync(agent)).Should().Be("301");

        foreach (var id in ids)
        {
            (await agent.Client.DeleteAsync($"/watchers/{id}", Ct)).Code.Should().Be(204);
        }

        (await OpenWatchersAsync(agent)).Should().Be("0", "every deleted watcher is uncounted");
        KernelWatches(agent.Pid).Should().Be(watchesBefore, "the shared tree went with its last watcher");

        // And a new watcher of the same tree after all that starts a fresh tree that works.
        var again = await CreateAsync(agent, root);
        (KernelWatches(agent.Pid) - watchesBefore).Should().Be(21);
        (await agent.Client.DeleteAsync($"/watchers/{again}", Ct)).Code.Should().Be(204);
        KernelWatches(agent.Pid).Should().Be(watchesBefore);
    }
}
