using System.Net;
using System.Text;

namespace Sandboxd.Client.Tests;

public sealed class FilesTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task Text_written_is_read_back_and_lands_on_disk_as_UTF8()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("files-text");
        await using var client = _agent.Client();
        var path = Path.Combine(dir, "sub dir", "ünï #?.txt");

        var entry = await client.Files.WriteTextAsync(path, "hello\nwörld ✓\n", ct);
        var text = await client.Files.ReadTextAsync(path, ct);

        entry.Path.Should().Be(path);
        entry.IsDir.Should().BeFalse();
        text.Should().Be("hello\nwörld ✓\n");
        (await File.ReadAllBytesAsync(path, ct)).Should().Equal(Encoding.UTF8.GetBytes("hello\nwörld ✓\n"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Relative_paths_resolve_against_the_sandbox_root()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = Path.GetFileName(_agent.NewDirectory("files-rel"));
        await using var client = _agent.Client();

        await client.Files.WriteTextAsync($"{dir}/a.txt", "rel", ct);

        (await File.ReadAllTextAsync(Path.Combine(_agent.Root, dir, "a.txt"), ct)).Should().Be("rel");
        (await client.Files.ReadTextAsync($"{dir}/a.txt", ct)).Should().Be("rel");
    }

    [Fact(Timeout = 120_000)]
    public async Task Bytes_round_trip_when_they_are_UTF8_and_are_refused_when_they_are_not()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("files-bytes");
        await using var client = _agent.Client();
        var utf8 = Encoding.UTF8.GetBytes("plain ✓ text");

        await client.Files.WriteBytesAsync(Path.Combine(dir, "ok.txt"), utf8, ct);
        var act = () => client.Files.WriteBytesAsync(Path.Combine(dir, "bin.dat"), new byte[] { 0xff, 0x00, 0xfe }, ct);

        (await client.Files.ReadBytesAsync(Path.Combine(dir, "ok.txt"), ct)).Should().Equal(utf8);
        (await act.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("UTF-8");
        File.Exists(Path.Combine(dir, "bin.dat")).Should().BeFalse();
    }

    [Fact(Timeout = 120_000)]
    public async Task Listing_exists_info_touch_and_delete()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("files-list");
        await using var client = _agent.Client();
        await client.Files.WriteTextAsync(Path.Combine(dir, "b.txt"), "12345", ct);
        await client.Files.TouchAsync(Path.Combine(dir, "a.txt"), ct);
        Directory.CreateDirectory(Path.Combine(dir, "c"));

        var listing = await client.Files.ListAsync(dir, ct);
        var info = await client.Files.GetInfoAsync(Path.Combine(dir, "b.txt"), ct);

        listing.Path.Should().Be(dir);
        listing.Files.Select(f => (f.Name, f.IsDir)).Should().Equal(("a.txt", false), ("b.txt", false), ("c", true));
        info.Size.Should().Be(5);
        (await client.Files.ExistsAsync(Path.Combine(dir, "b.txt"), ct)).Should().BeTrue();
        (await client.Files.ExistsAsync(Path.Combine(dir, "c"), ct)).Should().BeTrue();
        (await client.Files.ExistsAsync(Path.Combine(dir, "nope"), ct)).Should().BeFalse();

        await client.Files.DeleteAsync(Path.Combine(dir, "c"), ct);
        await client.Files.DeleteAsync(Path.Combine(dir, "b.txt"), ct);

        (await client.Files.ListAsync(dir, ct)).Files.Select(f => f.Name).Should().Equal("a.txt");
    }

    [Fact(Timeout = 120_000)]
    public async Task Reading_or_deleting_a_missing_file_throws_404()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("files-missing");
        await using var client = _agent.Client();

        var read = () => client.Files.ReadTextAsync(Path.Combine(dir, "missing"), ct);
        var delete = () => client.Files.DeleteAsync(Path.Combine(dir, "missing"), ct);

        (await read.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await delete.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_batch_reports_each_path_and_partial_failure_is_not_an_exception()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("files-batch");
        await using var client = _agent.Client();
        await File.WriteAllTextAsync(Path.Combine(dir, "old.txt"), "x", ct);

        var results = await client.Files.BatchAsync(
        [
            new BatchFileOperation(Path.Combine(dir, "new.txt"), "write", "fresh"),
            new BatchFileOperation(Path.Combine(dir, "old.txt"), "delete"),
            new BatchFileOperation(Path.Combine(dir, "ghost.txt"), "delete"),
        ], ct);

        results.Should().HaveCount(3);
        results.Single(r => r.Path.EndsWith("new.txt", StringComparison.Ordinal)).Success.Should().BeTrue();
        results.Single(r => r.Path.EndsWith("old.txt", StringComparison.Ordinal)).Success.Should().BeTrue();
        results.Single(r => r.Path.EndsWith("ghost.txt", StringComparison.Ordinal)).Success.Should().BeFalse();
        (await File.ReadAllTextAsync(Path.Combine(dir, "new.txt"), ct)).Should().Be("fresh");
        File.Exists(Path.Combine(dir, "old.txt")).Should().BeFalse();
    }

    [Theory]
    [InlineData("/tmp/a b.txt", "/files//tmp/a%20b.txt")]
    [InlineData("rel/a.txt", "/files/rel/a.txt")]
    [InlineData("//a//b", "/files//a/b")]
    [InlineData("ü#?.txt", "/files/%C3%BC%23%3F.txt")]
    public void File_paths_are_encoded_like_the_official_client(string path, string expected) =>
        FilesClient.FilePath(path).Should().Be(expected);
}
