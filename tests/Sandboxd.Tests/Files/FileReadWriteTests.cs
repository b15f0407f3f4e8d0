using System.Globalization;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

public sealed class FileReadWriteTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private Task<ApiResponse> PostFileAsync(string path, string? content) =>
        Agent.Client.PostAsync("/files", new WriteFileRequest(path, content), AgentClient.Wire.WriteFileRequest, TestContext.Current.CancellationToken);

    [Fact(Timeout = 30_000)]
    public async Task Writing_a_new_file_creates_its_parents_and_answers_201_with_its_info()
    {
        var response = await PostFileAsync("write-new/a/b/c.txt", "hello");

        response.ShouldHaveStatus(201);
        var file = response.Data.GetProperty("file");
        var expected = Path.Combine(Agent.Root, "write-new", "a", "b", "c.txt");
        file.GetProperty("name").GetString().Should().Be("c.txt");
        file.GetProperty("path").GetString().Should().Be(expected);
        file.GetProperty("size").GetInt64().Should().Be(5);
        file.GetProperty("is_dir").GetBoolean().Should().BeFalse();
        DateTimeOffset.Parse(file.GetProperty("modified_at").GetString()!, CultureInfo.InvariantCulture)
            .Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        (await File.ReadAllTextAsync(expected, TestContext.Current.CancellationToken)).Should().Be("hello");
    }

    [Fact(Timeout = 30_000)]
    public async Task Overwriting_an_existing_file_answers_200_and_replaces_the_content()
    {
        var ct = TestContext.Current.CancellationToken;
        (await PostFileAsync("overwrite.txt", "a much longer first version")).ShouldHaveStatus(201);

        var response = await PostFileAsync("overwrite.txt", "v2");

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("file").GetProperty("size").GetInt64().Should().Be(2);
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "overwrite.txt"), ct)).Should().Be("v2");
    }

    [Fact(Timeout = 30_000)]
    public async Task Overwriting_a_file_with_hard_links_writes_in_place_so_every_link_sees_it()
    {
        // Files are replaced atomically (temp + rename, docs/protocol-notes.md) unless other hard links exist.
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "in-place.txt");
        var link = Path.Combine(Agent.Root, "in-place-hardlink.txt");
        await File.WriteAllTextAsync(path, "old", ct);
        var ln = await Agent.Client.RunAsync($"ln {path} {link}", ct);
        ln.ExitCode.Should().Be(0, ln.Stderr);

        (await PostFileAsync(path, "new")).ShouldHaveStatus(200);

        (await File.ReadAllTextAsync(link, ct)).Should().Be("new", "a hard link sees an in-place write; a rename would leave it on the old inode");
    }

    [Fact(Timeout = 30_000)]
    public async Task Overwriting_replaces_the_file_atomically_and_leaves_no_temp_file()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "atomic.txt");
        await File.WriteAllTextAsync(path, "old", ct);
        var inodeBefore = (await Agent.Client.RunAsync($"stat -c %i {path}", ct)).Stdout.Trim();

        (await PostFileAsync(path, "new")).ShouldHaveStatus(200);

        (await File.ReadAllTextAsync(path, ct)).Should().Be("new");
        (await Agent.Client.RunAsync($"stat -c %i {path}", ct)).Stdout.Trim().Should().NotBe(inodeBefore, "a new file is renamed into place");
        Directory.GetFiles(Agent.Root, "*.tmp").Should().BeEmpty();
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_through_a_symlink_updates_its_target_and_keeps_the_link()
    {
        var ct = TestContext.Current.CancellationToken;
        var target = Path.Combine(Agent.Root, "link-target.txt");
        var link = Path.Combine(Agent.Root, "link.txt");
        await File.WriteAllTextAsync(target, "old", ct);
        File.CreateSymbolicLink(link, target);

        (await PostFileAsync(link, "new")).ShouldHaveStatus(200);

        new FileInfo(link).LinkTarget.Should().Be(target);
        (await File.ReadAllTextAsync(target, ct)).Should().Be("new");
    }

    [Fact(Timeout = 30_000)]
    public async Task Overwriting_keeps_the_file_mode()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "script.sh");
        await File.WriteAllTextAsync(path, "#!/bin/sh\necho v1\n", ct);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("750", 8));

        (await PostFileAsync("script.sh", "#!/bin/sh\necho v2\n")).ShouldHaveStatus(200);

        File.GetUnixFileMode(path).Should().Be((UnixFileMode)Convert.ToInt32("750", 8));
        (await Agent.Client.RunAsync("./script.sh", ct)).Stdout.Should().Be("v2\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_without_content_creates_an_empty_file()
    {
        var response = await PostFileAsync("touch/new-empty.txt", null);

        response.ShouldHaveStatus(201);
        var path = Path.Combine(Agent.Root, "touch", "new-empty.txt");
        File.Exists(path).Should().BeTrue();
        new FileInfo(path).Length.Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_without_content_leaves_an_existing_file_untouched()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "touch-existing.txt");
        await File.WriteAllTextAsync(path, "keep me", ct);

        var response = await Agent.Client.PostJsonAsync("/files", """{"path":"touch-existing.txt"}""", ct);

        response.ShouldHaveStatus(200);
        (await File.ReadAllTextAsync(path, ct)).Should().Be("keep me");
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_empty_content_truncates_the_file()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "truncate-me.txt");
        await File.WriteAllTextAsync(path, "content", ct);

        (await PostFileAsync("truncate-me.txt", "")).ShouldHaveStatus(200);

        new FileInfo(path).Length.Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_to_a_directory_path_answers_400_json()
    {
        Directory.CreateDirectory(Path.Combine(Agent.Root, "a-directory"));

        var response = await PostFileAsync("a-directory", "x");

        response.ShouldBeError(400);
        Directory.Exists(Path.Combine(Agent.Root, "a-directory")).Should().BeTrue();
    }

    [Fact(Timeout = 30_000)]
    public async Task Writing_under_a_parent_that_is_a_file_answers_4xx_json()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "parent-is-file"), "x", ct);

        var response = await PostFileAsync("parent-is-file/child.txt", "x");

        response.Code.Should().BeInRange(400, 499, response.Describe());
        response.ShouldBeError(response.Code);
    }

    [Fact(Timeout = 30_000)]
    public async Task Content_is_written_and_read_as_utf8_text()
    {
        var ct = TestContext.Current.CancellationToken;
        const string text = "grüße € 😀\nline2\r\n\ttab \"quotes\" \\ backslash";
        (await PostFileAsync("unicode.txt", text)).ShouldHaveStatus(201);
        (await File.ReadAllBytesAsync(Path.Combine(Agent.Root, "unicode.txt"), ct)).Should().Equal(Encoding.UTF8.GetBytes(text));

        var response = await Agent.Client.GetAsync("/files/unicode.txt?content=true", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("content").GetString().Should().Be(text);
        response.Data.GetProperty("file").GetProperty("size").GetInt64().Should().Be(Encoding.UTF8.GetByteCount(text));
    }

    [Fact(Timeout = 30_000)]
    public async Task Reading_metadata_without_content_returns_only_the_file_info()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "meta.txt"), "12345678", ct);

        var response = await Agent.Client.GetAsync("/files/meta.txt", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("file").GetProperty("size").GetInt64().Should().Be(8);
        response.Data.GetProperty("file").GetProperty("name").GetString().Should().Be("meta.txt");
        response.Data.TryGetProperty("content", out _).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task An_absolute_path_arrives_with_a_double_slash_and_is_read()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = Directory.CreateTempSubdirectory("sandboxd-abs-").FullName;
        try
        {
            var path = Path.Combine(dir, "abs file.txt");
            await File.WriteAllTextAsync(path, "absolute", ct);

            var response = await Agent.Client.GetAsync("/files/" + EncodeFilePath(path) + "?content=true", ct);

            response.ShouldHaveStatus(200);
            response.Data.GetProperty("content").GetString().Should().Be("absolute");
            response.Data.GetProperty("file").GetProperty("path").GetString().Should().Be(path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_relative_path_resolves_against_the_root()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "rel"));
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "rel", "a.txt"), "relative", ct);

        var response = await Agent.Client.GetAsync("/files/rel/a.txt?content=true", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("content").GetString().Should().Be("relative");
        response.Data.GetProperty("file").GetProperty("path").GetString().Should().Be(Path.Combine(Agent.Root, "rel", "a.txt"));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("ü#?.txt", "%C3%BC%23%3F.txt")]
    [InlineData("a b&c=d+e.txt", "a%20b%26c%3Dd%2Be.txt")]
    [InlineData("100%.txt", "100%25.txt")]
    public async Task Percent_encoded_names_are_decoded(string name, string encoded)
    {
        var ct = TestContext.Current.CancellationToken;
        Uri.EscapeDataString(name).Should().Be(encoded, "the test must send what encodeURIComponent sends");
        (await PostFileAsync("enc/" + name, "named " + name)).ShouldHaveStatus(201);
        File.Exists(Path.Combine(Agent.Root, "enc", name)).Should().BeTrue();

        var reply = await RawHttp.SendAsync(Agent, "GET", "/files/enc/" + encoded + "?content=true", ct);

        reply.Status.Should().Be(200, reply.Body);
        using var json = JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("data").GetProperty("content").GetString().Should().Be("named " + name);
        json.RootElement.GetProperty("data").GetProperty("file").GetProperty("name").GetString().Should().Be(name);
        (await RawHttp.SendAsync(Agent, "HEAD", "/files/enc/" + encoded, ct)).Status.Should().Be(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reading_a_missing_file_answers_404_json()
    {
        (await Agent.Client.GetAsync("/files/does/not/exist.txt?content=true", TestContext.Current.CancellationToken)).ShouldBeError(404);
        (await Agent.Client.GetAsync("/files/does/not/exist.txt", TestContext.Current.CancellationToken)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reading_a_directory_gives_metadata_but_its_content_is_400()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "read-dir"));

        var meta = await Agent.Client.GetAsync("/files/read-dir", ct);
        meta.ShouldHaveStatus(200);
        meta.Data.GetProperty("file").GetProperty("is_dir").GetBoolean().Should().BeTrue();

        (await Agent.Client.GetAsync("/files/read-dir?content=true", ct)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Invalid_utf8_file_bytes_are_read_as_replacement_characters()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllBytesAsync(Path.Combine(Agent.Root, "binary.bin"), [0x61, 0xFF, 0x62], ct);

        var response = await Agent.Client.GetAsync("/files/binary.bin?content=true", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("content").GetString().Should().Be("a\uFFFDb");
    }

    [Fact(Timeout = 30_000)]
    public async Task Head_answers_200_for_files_and_directories_and_404_for_missing()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "head.txt"), "x", ct);
        Directory.CreateDirectory(Path.Combine(Agent.Root, "head-dir"));

        (await Agent.Client.HeadAsync("/files/head.txt", ct)).ShouldHaveStatus(200);
        (await Agent.Client.HeadAsync("/files/head-dir", ct)).ShouldHaveStatus(200);
        (await Agent.Client.HeadAsync("/files/" + EncodeFilePath(Path.Combine(Agent.Root, "head.txt")), ct)).ShouldHaveStatus(200);
        (await Agent.Client.HeadAsync("/files/head-missing.txt", ct)).ShouldHaveStatus(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Head_follows_symlinks()
    {
        var ct = TestContext.Current.CancellationToken;
        File.CreateSymbolicLink(Path.Combine(Agent.Root, "head-dangling"), Path.Combine(Agent.Root, "nowhere"));
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "head-target"), "", ct);
        File.CreateSymbolicLink(Path.Combine(Agent.Root, "head-link"), Path.Combine(Agent.Root, "head-target"));

        (await Agent.Client.HeadAsync("/files/head-link", ct)).ShouldHaveStatus(200);
        (await Agent.Client.HeadAsync("/files/head-dangling", ct)).ShouldHaveStatus(404);
    }

    /// <summary>What the client's encodeFilePath does: drop empty segments, encodeURIComponent each, keep a leading '/'.</summary>
    public static string EncodeFilePath(string path)
    {
        var encoded = string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.EscapeDataString));
        return path.StartsWith('/') ? "/" + encoded : encoded;
    }
}
