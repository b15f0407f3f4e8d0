using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Overlays;

public sealed class OverlayTests(AgentFixture fixture) : IClassFixture<AgentFixture>, IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly List<string> _templates = [];
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string NewTemplate()
    {
        var dir = Directory.CreateTempSubdirectory("sandboxd-template-").FullName;
        _templates.Add(dir);
        return dir;
    }

    private static void Write(string root, string relative, string content)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private async Task<JsonElement> CreateAsync(JsonObject body)
    {
        var response = await Client.PostJsonAsync("/filesystem/overlays", body.ToJsonString(), Ct);
        response.ShouldHaveStatus(201);
        return response.Json;
    }

    private Task<JsonElement> WaitAsync(string id, string status) =>
        Eventually.UntilAsync(async () => (await Client.GetAsync($"/filesystem/overlays/{id}", Ct)).Json,
            o => o.GetProperty("copy_status").GetString() == status || o.GetProperty("copy_status").GetString() == "failed",
            Long, $"overlay {id} {status}", Ct);

    [Fact(Timeout = 60_000)]
    public async Task A_smart_overlay_links_node_modules_copies_files_skips_git_and_ignored_globs_and_keeps_modes_times_hidden_files_and_links()
    {
        var template = NewTemplate();
        Write(template, "package.json", """{"name":"app"}""");
        Write(template, "src/index.js", "console.log(1)");
        Write(template, ".env", "SECRET=1");
        Write(template, "debug.log", "noise");
        Write(template, "src/deep/trace.log", "noise");
        Write(template, ".git/HEAD", "ref: refs/heads/main");
        Write(template, "node_modules/left-pad/index.js", "module.exports=1");
        Write(template, "run.sh", "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(Path.Combine(template, "run.sh"), (UnixFileMode)Convert.ToInt32("750", 8));
        var stamp = new DateTime(2020, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(Path.Combine(template, "package.json"), stamp);
        File.CreateSymbolicLink(Path.Combine(template, "entry.js"), "src/index.js");
        var target = "smart-" + Guid.NewGuid().ToString("N")[..6];

        var overlay = await CreateAsync(new JsonObject
        {
            ["source"] = template, ["target"] = target, ["strategy"] = "smart", ["ignore"] = Arr("*.log"), ["waitForCompletion"] = true,
        });

        overlay.GetProperty("copy_status").GetString().Should().Be("complete");
        overlay.GetProperty("strategy").GetString().Should().Be("smart");
        overlay.GetProperty("source").GetString().Should().Be(template);
        overlay.GetProperty("target").GetString().Should().Be(target);
        overlay.GetProperty("id").GetString().Should().NotBeNullOrEmpty();
        overlay.GetProperty("created_at").GetString().Should().NotBeNullOrEmpty();
        var stats = overlay.GetProperty("stats");
        stats.GetProperty("skipped").EnumerateArray().Select(s => s.GetString()).Should().BeEquivalentTo([".git", "debug.log", "src/deep/trace.log"]);
        stats.GetProperty("copied_files").GetInt32().Should().Be(4, "package.json, src/index.js, .env and run.sh");
        var dest = Path.Combine(Agent.Root, target);

        new DirectoryInfo(Path.Combine(dest, "node_modules")).LinkTarget.Should().Be(Path.Combine(template, "node_modules"));
        File.ReadAllText(Path.Combine(dest, "node_modules/left-pad/index.js")).Should().Be("module.exports=1");
        new FileInfo(Path.Combine(dest, "src/index.js")).LinkTarget.Should().BeNull("regular files are copied, not linked");
        File.ReadAllText(Path.Combine(dest, ".env")).Should().Be("SECRET=1");
        Directory.Exists(Path.Combine(dest, ".git")).Should().BeFalse();
        File.Exists(Path.Combine(dest, "debug.log")).Should().BeFalse();
        File.Exists(Path.Combine(dest, "src/deep/trace.log")).Should().BeFalse();
        File.GetUnixFileMode(Path.Combine(dest, "run.sh")).Should().Be(File.GetUnixFileMode(Path.Combine(template, "run.sh")));
        File.GetLastWriteTimeUtc(Path.Combine(dest, "package.json")).Should().Be(stamp);
        new FileInfo(Path.Combine(dest, "entry.js")).LinkTarget.Should().Be("src/index.js", "internal symlinks are kept as links");

        var listed = (await Client.GetAsync("/filesystem/overlays", Ct)).Json.GetProperty("overlays");
        listed.EnumerateArray().Select(o => o.GetProperty("id").GetString()).Should().Contain(overlay.GetProperty("id").GetString());
        var ready = (await Agent.Anonymous.GetAsync("/ready", Ct)).Json.GetProperty("overlays").EnumerateArray()
            .Single(o => o.GetProperty("id").GetString() == overlay.GetProperty("id").GetString());
        ready.GetProperty("copy_status").GetString().Should().Be("complete");
        ready.GetProperty("target").GetString().Should().Be(target);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_copy_overlay_copies_node_modules_in_the_background_and_counts_the_directory()
    {
        var template = NewTemplate();
        Write(template, "index.js", "1");
        for (var i = 0; i < 1500; i++)
        {
            Write(template, $"node_modules/pkg{i % 30}/file{i}.js", new string('x', 2000));
        }

        var target = "copy-" + Guid.NewGuid().ToString("N")[..6];
        var overlay = await CreateAsync(new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = "copy" });
        overlay.GetProperty("copy_status").GetString().Should().BeOneOf("pending", "in_progress", "complete");
        overlay.GetProperty("strategy").GetString().Should().Be("copy");

        var done = await WaitAsync(overlay.GetProperty("id").GetString()!, "complete");
        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        done.GetProperty("stats").GetProperty("copied_dirs").GetInt32().Should().Be(1);
        done.GetProperty("stats").GetProperty("copied_files").GetInt32().Should().Be(1501);
        var modules = Path.Combine(Agent.Root, target, "node_modules");
        new DirectoryInfo(modules).LinkTarget.Should().BeNull("copy makes a real directory");
        Directory.EnumerateFiles(modules, "*", SearchOption.AllDirectories).Count().Should().Be(1500);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_large_template_answers_quickly_and_then_completes()
    {
        var template = NewTemplate();
        for (var i = 0; i < 3000; i++)
        {
            Write(template, $"node_modules/p{i % 50}/f{i}.txt", "content " + i);
        }

        Write(template, "small.txt", "small");
        await using (var big = File.Create(Path.Combine(template, "assets.bin")))
        {
            big.SetLength(50L * 1024 * 1024);
            big.Seek(-5, SeekOrigin.End);
            big.Write("tail!"u8);
        }

        var target = "large-" + Guid.NewGuid().ToString("N")[..6];
        var watch = Stopwatch.StartNew();
        var overlay = await CreateAsync(new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = "copy" });
        watch.Stop();
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "node_modules is copied in the background");

        var done = await WaitAsync(overlay.GetProperty("id").GetString()!, "complete");
        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        new FileInfo(Path.Combine(Agent.Root, target, "assets.bin")).Length.Should().Be(50L * 1024 * 1024);
        Directory.EnumerateFiles(Path.Combine(Agent.Root, target, "node_modules"), "*", SearchOption.AllDirectories).Count().Should().Be(3000);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_smart_overlay_with_a_large_file_answers_before_the_file_is_copied_and_completes()
    {
        var template = NewTemplate();
        await using (var big = File.Create(Path.Combine(template, "model.bin")))
        {
            big.SetLength(50L * 1024 * 1024);
        }

        var target = "smartbig-" + Guid.NewGuid().ToString("N")[..6];
        var overlay = await CreateAsync(new JsonObject { ["source"] = template, ["target"] = target });
        overlay.GetProperty("strategy").GetString().Should().Be("smart", "smart is the default");
        var done = await WaitAsync(overlay.GetProperty("id").GetString()!, "complete");
        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        new FileInfo(Path.Combine(Agent.Root, target, "model.bin")).Length.Should().Be(50L * 1024 * 1024);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_copy_that_fails_in_the_background_ends_failed_with_a_copy_error_and_the_agent_keeps_serving()
    {
        var template = NewTemplate();
        Write(template, "a.txt", "a");
        Write(template, "node_modules/pkg/index.js", "x");
        var target = "fail-" + Guid.NewGuid().ToString("N")[..6];
        // The target already holds a *file* where the copy needs the directory node_modules/pkg.
        Write(Path.Combine(Agent.Root, target), "node_modules/pkg", "in the way");

        var overlay = await CreateAsync(new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = "copy" });
        var done = await WaitAsync(overlay.GetProperty("id").GetString()!, "failed");

        done.GetProperty("copy_status").GetString().Should().Be("failed", done.ToString());
        done.GetProperty("copy_error").GetString().Should().NotBeNullOrWhiteSpace();
        (await Agent.Anonymous.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        (await Client.RunAsync("echo still-here", Ct)).Stdout.Should().Contain("still-here");
    }

    [Fact(Timeout = 60_000)]
    public async Task Delete_removes_the_target_tree_but_never_follows_the_node_modules_link_into_the_template()
    {
        var template = NewTemplate();
        Write(template, "a.txt", "a");
        Write(template, "node_modules/keep/index.js", "keep me");
        var target = "del-" + Guid.NewGuid().ToString("N")[..6];
        var overlay = await CreateAsync(new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = "smart" });
        var id = overlay.GetProperty("id").GetString()!;

        (await Client.DeleteAsync($"/filesystem/overlays/{id}", Ct)).ShouldHaveStatus(204);

        Directory.Exists(Path.Combine(Agent.Root, target)).Should().BeFalse();
        File.ReadAllText(Path.Combine(template, "node_modules/keep/index.js")).Should().Be("keep me");
        File.ReadAllText(Path.Combine(template, "a.txt")).Should().Be("a");
        (await Client.GetAsync($"/filesystem/overlays/{id}", Ct)).ShouldBeError(404);
        (await Client.DeleteAsync($"/filesystem/overlays/{id}", Ct)).ShouldBeError(404);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("""{"target":"x"}""")]
    [InlineData("""{"source":"/tmp"}""")]
    [InlineData("""{"source":"/definitely/not/here","target":"x"}""")]
    [InlineData("""{"source":"/etc/passwd","target":"x"}""")]
    public async Task A_missing_source_or_target_or_a_source_that_is_not_a_directory_is_a_400(string body)
    {
        (await Client.PostJsonAsync("/filesystem/overlays", body, Ct)).ShouldBeError(400);
    }

    public void Dispose()
    {
        foreach (var dir in _templates)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
