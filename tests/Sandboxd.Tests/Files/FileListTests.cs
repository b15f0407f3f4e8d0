using System.Globalization;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

public sealed class FileListTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private string MakeDir(string relative)
    {
        var dir = Path.Combine(Agent.Root, relative);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_returns_direct_children_sorted_ordinally_with_dot_files()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("list-sorted");
        await File.WriteAllTextAsync(Path.Combine(dir, "b.txt"), "bb", ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "a.txt"), "a", ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "B.txt"), "", ct);
        await File.WriteAllTextAsync(Path.Combine(dir, ".hidden"), "hhh", ct);
        Directory.CreateDirectory(Path.Combine(dir, "sub", "deeper"));
        await File.WriteAllTextAsync(Path.Combine(dir, "sub", "inner.txt"), "not listed", ct);

        var response = await Agent.Client.GetAsync("/files?path=list-sorted", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("path").GetString().Should().Be(dir);
        var files = response.Data.GetProperty("files").EnumerateArray().ToList();
        files.Select(f => f.GetProperty("name").GetString()).Should().Equal(".hidden", "B.txt", "a.txt", "b.txt", "sub");
        var byName = files.ToDictionary(f => f.GetProperty("name").GetString()!);
        byName["sub"].GetProperty("is_dir").GetBoolean().Should().BeTrue();
        byName["sub"].GetProperty("size").GetInt64().Should().Be(0);
        byName["b.txt"].GetProperty("is_dir").GetBoolean().Should().BeFalse();
        byName["b.txt"].GetProperty("size").GetInt64().Should().Be(2);
        byName[".hidden"].GetProperty("size").GetInt64().Should().Be(3);
        byName["a.txt"].GetProperty("path").GetString().Should().Be(Path.Combine(dir, "a.txt"));
        foreach (var file in files)
        {
            var modified = file.GetProperty("modified_at").GetString()!;
            DateTimeOffset.Parse(modified, CultureInfo.InvariantCulture).Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_an_absolute_path_works()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("list-absolute");
        await File.WriteAllTextAsync(Path.Combine(dir, "x"), "", ct);

        var response = await Agent.Client.GetAsync("/files?path=" + Uri.EscapeDataString(dir), ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).Should().Equal("x");
    }

    [Fact(Timeout = 30_000)]
    public async Task The_path_query_is_form_decoded_so_plus_is_a_space()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("my dir");
        await File.WriteAllTextAsync(Path.Combine(dir, "in-space.txt"), "", ct);

        var response = await Agent.Client.GetAsync("/files?path=my+dir", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).Should().Equal("in-space.txt");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_symlink_to_a_directory_lists_as_a_directory()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("list-links");
        Directory.CreateDirectory(Path.Combine(dir, "target-dir"));
        File.CreateSymbolicLink(Path.Combine(dir, "link-dir"), Path.Combine(dir, "target-dir"));
        await File.WriteAllTextAsync(Path.Combine(dir, "target.txt"), "12345", ct);
        File.CreateSymbolicLink(Path.Combine(dir, "link.txt"), Path.Combine(dir, "target.txt"));

        var response = await Agent.Client.GetAsync("/files?path=list-links", ct);

        var byName = response.Data.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        byName["link-dir"].GetProperty("is_dir").GetBoolean().Should().BeTrue();
        byName["link.txt"].GetProperty("is_dir").GetBoolean().Should().BeFalse();
        byName["link.txt"].GetProperty("size").GetInt64().Should().Be(5);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_dangling_symlink_does_not_break_the_listing()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("list-dangling");
        File.CreateSymbolicLink(Path.Combine(dir, "dangling"), Path.Combine(dir, "nowhere"));

        var response = await Agent.Client.GetAsync("/files?path=list-dangling", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).Should().Equal("dangling");
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_an_empty_directory_gives_an_empty_array()
    {
        MakeDir("list-empty");

        var response = await Agent.Client.GetAsync("/files?path=list-empty", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("files").ValueKind.Should().Be(JsonValueKind.Array);
        response.Data.GetProperty("files").GetArrayLength().Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_a_missing_directory_answers_404_json()
    {
        var response = await Agent.Client.GetAsync("/files?path=no-such-dir", TestContext.Current.CancellationToken);

        response.ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_a_file_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "plain-file.txt"), "x", ct);

        var response = await Agent.Client.GetAsync("/files?path=plain-file.txt", ct);

        response.ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Listing_resolves_dot_dot_segments()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = MakeDir("list-dotdot");
        MakeDir("list-dotdot/child");
        await File.WriteAllTextAsync(Path.Combine(dir, "here.txt"), "", ct);

        var response = await Agent.Client.GetAsync("/files?path=" + Uri.EscapeDataString("list-dotdot/child/.."), ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("path").GetString().Should().Be(dir);
        response.Data.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).Should().Contain("here.txt");
    }
}
