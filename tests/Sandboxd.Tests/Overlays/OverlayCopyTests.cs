using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Overlays;

/// <summary>
/// The file copier under overlays (docs/adr/0015-overlay-copy.md): raw open/copy_file_range/fchmod/futimens/rename per
/// file on a few threads. What it must keep: contents, holes, empty files, modes, nanosecond times, symlinks (dangling
/// ones too), a directory in the way replaced by the template's file, no temporary file left behind, cancellation, and
/// the read/write fallback when copy_file_range cannot cross filesystems.
/// </summary>
public sealed class OverlayCopyTests(AgentFixture fixture) : IClassFixture<AgentFixture>, IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly List<string> _templates = [];
    private readonly List<string> _mounts = [];
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string NewTemplate()
    {
        var dir = Directory.CreateTempSubdirectory("sandboxd-template-copy-").FullName;
        _templates.Add(dir);
        return dir;
    }

    private static void Write(string root, string relative, string content)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private async Task<JsonElement> CopyAsync(string template, string target, string strategy = "copy")
    {
        var response = await Client.PostJsonAsync("/filesystem/overlays",
            new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = strategy }.ToJsonString(), Ct);
        response.ShouldHaveStatus(201);
        var id = response.Json.GetProperty("id").GetString()!;
        return await Eventually.UntilAsync(async () => (await Client.GetAsync($"/filesystem/overlays/{id}", Ct)).Json,
            o => o.GetProperty("copy_status").GetString() is "complete" or "failed", Long, $"overlay {id} done", Ct);
    }

    private static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit(30_000).Should().BeTrue($"{file} ends");
        process.ExitCode.Should().Be(0, $"{file} {string.Join(' ', args)}: {output}");
        return output.Trim();
    }

    /// <summary>stat(1): allocated 512-byte blocks, size, octal mode, mtime in nanoseconds (%.9Y).</summary>
    private static (long Blocks, long Size, string Mode, string MTime) Stat(string path)
    {
        var parts = Run("stat", "-c", "%b %s %a %.9Y", path).Split(' ');
        return (long.Parse(parts[0]), long.Parse(parts[1]), parts[2], parts[3]);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_copy_keeps_holes_empty_files_modes_nanosecond_times_and_links_and_leaves_no_temporary_file()
    {
        var template = NewTemplate();
        // 64 MiB with 4 KiB of data at 0, 16 MiB and the very end: a sparse file as a VM image or a database has.
        var sparse = Path.Combine(template, "disk.img");
        using (var f = new FileStream(sparse, FileMode.CreateNew))
        {
            f.Write(Enumerable.Repeat((byte)'a', 4096).ToArray());
            f.Seek(16L << 20, SeekOrigin.Begin);
            f.Write(Enumerable.Repeat((byte)'b', 4096).ToArray());
            f.SetLength(64L << 20);
            f.Seek((64L << 20) - 4096, SeekOrigin.Begin);
            f.Write(Enumerable.Repeat((byte)'c', 4096).ToArray());
        }

        File.WriteAllBytes(Path.Combine(template, "empty"), []);
        Write(template, "secret.key", "k");
        File.SetUnixFileMode(Path.Combine(template, "secret.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Run("touch", "-h", "-d", "2001-02-03 04:05:06.123456789 UTC", Path.Combine(template, "secret.key"));
        File.CreateSymbolicLink(Path.Combine(template, "dangling"), "does/not/exist");
        File.CreateSymbolicLink(Path.Combine(template, "abs"), "/etc/hostname");
        for (var i = 0; i < 200; i++) // past the inline threshold: the worker pool copies these
        {
            Write(template, $"lib/m{i % 7}/f{i}.js", new string((char)('a' + (i % 26)), i * 37));
        }

        var target = "copyfid-" + Guid.NewGuid().ToString("N")[..6];
        var done = await CopyAsync(template, target);

        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        done.GetProperty("stats").GetProperty("copied_files").GetInt32().Should().Be(203);
        var dest = Path.Combine(Agent.Root, target);
        var copy = Stat(Path.Combine(dest, "disk.img"));
        copy.Size.Should().Be(64L << 20);
        copy.Blocks.Should().BeLessThan((1L << 20) / 512, "the holes are kept: ~12 KiB of data, not 64 MiB allocated");
        Run("cmp", sparse, Path.Combine(dest, "disk.img"));
        new FileInfo(Path.Combine(dest, "empty")).Length.Should().Be(0);
        var key = Stat(Path.Combine(dest, "secret.key"));
        key.Mode.Should().Be("600");
        key.MTime.Should().Be(Stat(Path.Combine(template, "secret.key")).MTime, "times are copied to the nanosecond");
        key.MTime.Should().StartWith("981173106.123456789");
        new FileInfo(Path.Combine(dest, "dangling")).LinkTarget.Should().Be("does/not/exist");
        new FileInfo(Path.Combine(dest, "abs")).LinkTarget.Should().Be("/etc/hostname");
        for (var i = 0; i < 200; i++)
        {
            File.ReadAllText(Path.Combine(dest, $"lib/m{i % 7}/f{i}.js")).Should().Be(new string((char)('a' + (i % 26)), i * 37));
        }

        Directory.EnumerateFileSystemEntries(dest, "*.tmp", SearchOption.AllDirectories).Should().BeEmpty("temporary names are renamed or removed");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_directory_in_the_target_where_the_template_has_a_file_is_replaced_by_the_file()
    {
        var template = NewTemplate();
        Write(template, "config", "from the template");
        var target = "copydir-" + Guid.NewGuid().ToString("N")[..6];
        Write(Path.Combine(Agent.Root, target), "config/old.txt", "in the way");

        var done = await CopyAsync(template, target);

        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        File.ReadAllText(Path.Combine(Agent.Root, target, "config")).Should().Be("from the template");
    }

    [Fact(Timeout = 120_000)]
    public async Task Destroying_a_copy_overlay_mid_copy_stops_it_removes_the_target_and_the_agent_keeps_serving()
    {
        var template = NewTemplate();
        for (var i = 0; i < 6000; i++)
        {
            Write(template, $"node_modules/p{i / 100}/f{i}.js", "module.exports = 1;\n");
        }

        var target = "copycancel-" + Guid.NewGuid().ToString("N")[..6];
        var response = await Client.PostJsonAsync("/filesystem/overlays",
            new JsonObject { ["source"] = template, ["target"] = target, ["strategy"] = "copy" }.ToJsonString(), Ct);
        response.ShouldHaveStatus(201);
        var id = response.Json.GetProperty("id").GetString()!;

        (await Client.DeleteAsync($"/filesystem/overlays/{id}", Ct)).ShouldHaveStatus(204);

        (await Client.GetAsync($"/filesystem/overlays/{id}", Ct)).ShouldHaveStatus(404);
        Directory.Exists(Path.Combine(Agent.Root, target)).Should().BeFalse("the destroy waits for the copy to stop, then removes the target");
        Directory.EnumerateFiles(Path.Combine(template, "node_modules"), "*", SearchOption.AllDirectories).Count().Should().Be(6000, "the template is untouched");
        (await Client.RunAsync("echo still-here", Ct)).Stdout.Should().Contain("still-here");
    }

    [Fact(Timeout = 90_000)]
    public async Task A_template_on_another_filesystem_is_copied_by_the_read_write_fallback()
    {
        if (Environment.UserName != "root")
        {
            Assert.Skip("SKIPPED LOUDLY: mounting a tmpfs template needs root; the cross-filesystem fallback is not tested in this run.");
        }

        var template = NewTemplate();
        Run("mount", "-t", "tmpfs", "-o", "size=64m", "sandboxd-test-tmpfs", template);
        _mounts.Add(template);
        Run("findmnt", "-n", "-o", "FSTYPE", template).Should().Be("tmpfs");
        var blob = Enumerable.Range(0, 3 << 20).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(Path.Combine(template, "blob.bin"), blob);
        for (var i = 0; i < 100; i++)
        {
            Write(template, $"node_modules/p{i % 5}/f{i}.js", $"// {i}\n");
        }

        var target = "copyxfs-" + Guid.NewGuid().ToString("N")[..6];
        var done = await CopyAsync(template, target);

        done.GetProperty("copy_status").GetString().Should().Be("complete", done.ToString());
        var dest = Path.Combine(Agent.Root, target);
        Run("findmnt", "-n", "-o", "FSTYPE", "--target", dest).Should().NotBe("tmpfs", "the copy crosses filesystems");
        File.ReadAllBytes(Path.Combine(dest, "blob.bin")).Should().Equal(blob);
        for (var i = 0; i < 100; i++)
        {
            File.ReadAllText(Path.Combine(dest, $"node_modules/p{i % 5}/f{i}.js")).Should().Be($"// {i}\n");
        }
    }

    public void Dispose()
    {
        foreach (var mount in _mounts)
        {
            using var umount = Process.Start("umount", [mount]);
            umount.WaitForExit(30_000);
        }

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
