using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

public sealed class FileDeleteTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_file_answers_204_with_an_empty_body()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "delete-me.txt");
        await File.WriteAllTextAsync(path, "x", ct);

        var response = await Agent.Client.DeleteAsync("/files/delete-me.txt", ct);

        response.ShouldHaveStatus(204);
        response.Text.Should().BeEmpty();
        File.Exists(path).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_directory_is_recursive()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = Path.Combine(Agent.Root, "delete-tree");
        Directory.CreateDirectory(Path.Combine(dir, "a", "b"));
        await File.WriteAllTextAsync(Path.Combine(dir, "a", "b", "leaf.txt"), "x", ct);
        await File.WriteAllTextAsync(Path.Combine(dir, ".dot"), "x", ct);

        (await Agent.Client.DeleteAsync("/files/delete-tree", ct)).ShouldHaveStatus(204);

        Directory.Exists(dir).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_symlink_removes_the_link_not_its_target()
    {
        var ct = TestContext.Current.CancellationToken;
        var targetDir = Path.Combine(Agent.Root, "link-target-dir");
        Directory.CreateDirectory(targetDir);
        await File.WriteAllTextAsync(Path.Combine(targetDir, "precious.txt"), "keep", ct);
        var dirLink = Path.Combine(Agent.Root, "dir-link");
        File.CreateSymbolicLink(dirLink, targetDir);
        var fileLink = Path.Combine(Agent.Root, "file-link");
        File.CreateSymbolicLink(fileLink, Path.Combine(targetDir, "precious.txt"));

        (await Agent.Client.DeleteAsync("/files/dir-link", ct)).ShouldHaveStatus(204);
        (await Agent.Client.DeleteAsync("/files/file-link", ct)).ShouldHaveStatus(204);

        Path.Exists(dirLink).Should().BeFalse();
        new FileInfo(dirLink).LinkTarget.Should().BeNull("the link itself is gone");
        new FileInfo(fileLink).LinkTarget.Should().BeNull();
        (await File.ReadAllTextAsync(Path.Combine(targetDir, "precious.txt"), ct)).Should().Be("keep");
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_dangling_symlink_works()
    {
        var link = Path.Combine(Agent.Root, "dangling-delete");
        File.CreateSymbolicLink(link, Path.Combine(Agent.Root, "nothing-here"));

        (await Agent.Client.DeleteAsync("/files/dangling-delete", TestContext.Current.CancellationToken)).ShouldHaveStatus(204);

        new FileInfo(link).LinkTarget.Should().BeNull();
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_missing_path_answers_404_json()
    {
        (await Agent.Client.DeleteAsync("/files/never-existed.txt", TestContext.Current.CancellationToken)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_an_absolute_path_with_a_double_slash_works()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Agent.Root, "abs-delete.txt");
        await File.WriteAllTextAsync(path, "x", ct);

        (await Agent.Client.DeleteAsync("/files/" + FileReadWriteTests.EncodeFilePath(path), ct)).ShouldHaveStatus(204);

        File.Exists(path).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_the_sandbox_root_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.DeleteAsync("/files/" + FileReadWriteTests.EncodeFilePath(Agent.Root), ct);

        response.Code.Should().BeInRange(400, 499, response.Describe());
        Directory.Exists(Agent.Root).Should().BeTrue();
    }
}
