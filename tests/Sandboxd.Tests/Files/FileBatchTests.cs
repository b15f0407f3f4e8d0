using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

public sealed class FileBatchTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private Task<ApiResponse> BatchAsync(params BatchFileOperation[] operations) =>
        Agent.Client.PostAsync("/files/batch", new BatchFilesRequest(operations), AgentClient.Wire.BatchFilesRequest, TestContext.Current.CancellationToken);

    [Fact(Timeout = 30_000)]
    public async Task A_successful_batch_answers_200_with_one_result_per_path_sorted_ordinally()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "batch1-old.txt"), "old", ct);

        var response = await BatchAsync(
            new("batch1/z.txt", "write", "zz"),
            new("batch1/B.txt", "write", "B"),
            new("batch1-old.txt", "delete"),
            new("batch1/a/deep.txt", "write", "deep"));

        response.ShouldHaveStatus(200);
        var results = response.Envelope(AgentClient.Wire.EnvelopeBatchFilesData).Results;
        results.Select(r => r.Path).Should().Equal("batch1-old.txt", "batch1/B.txt", "batch1/a/deep.txt", "batch1/z.txt");
        results.Should().OnlyContain(r => r.Success);
        results.Single(r => r.Path == "batch1/z.txt").File!.Size.Should().Be(2);
        results.Single(r => r.Path == "batch1/a/deep.txt").File!.Path.Should().Be(Path.Combine(Agent.Root, "batch1", "a", "deep.txt"));
        results.Single(r => r.Path == "batch1-old.txt").File.Should().BeNull();
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "batch1", "a", "deep.txt"), ct)).Should().Be("deep");
        File.Exists(Path.Combine(Agent.Root, "batch1-old.txt")).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task The_last_operation_for_a_path_wins()
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await BatchAsync(
            new("batch2/dup.txt", "write", "first"),
            new("batch2/dup.txt", "write", "second"),
            new("batch2/gone.txt", "write", "created then deleted"),
            new("batch2/other.txt", "write", "other"),
            new("batch2/gone.txt", "delete"));

        var results = response.Envelope(AgentClient.Wire.EnvelopeBatchFilesData).Results;
        results.Select(r => r.Path).Should().Equal("batch2/dup.txt", "batch2/gone.txt", "batch2/other.txt");
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "batch2", "dup.txt"), ct)).Should().Be("second");
        // Only the last operation runs: deleting a file the batch never wrote fails as "not found".
        File.Exists(Path.Combine(Agent.Root, "batch2", "gone.txt")).Should().BeFalse();
        var gone = results.Single(r => r.Path == "batch2/gone.txt");
        gone.Success.Should().BeFalse();
        gone.Error.Should().Be("not found");
        response.ShouldHaveStatus(207);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_partly_failed_batch_answers_207_with_per_path_errors()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "batch3", "is-a-dir"));

        var response = await BatchAsync(
            new("batch3/ok.txt", "write", "ok"),
            new("batch3/missing.txt", "delete"),
            new("batch3/is-a-dir", "write", "x"),
            new("batch3/weird.txt", "rename"));

        response.ShouldHaveStatus(207);
        response.Data.GetProperty("results").GetArrayLength().Should().Be(4);
        var results = response.Envelope(AgentClient.Wire.EnvelopeBatchFilesData).Results.ToDictionary(r => r.Path);
        results["batch3/ok.txt"].Success.Should().BeTrue();
        results["batch3/ok.txt"].File.Should().NotBeNull();
        results["batch3/missing.txt"].Success.Should().BeFalse();
        results["batch3/missing.txt"].Error.Should().Be("not found");
        results["batch3/is-a-dir"].Success.Should().BeFalse();
        results["batch3/is-a-dir"].Error.Should().NotBeNullOrEmpty();
        results["batch3/weird.txt"].Success.Should().BeFalse();
        results["batch3/weird.txt"].Error.Should().Contain("rename");
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "batch3", "ok.txt"), ct)).Should().Be("ok");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_write_without_content_creates_an_empty_file()
    {
        var response = await BatchAsync(new BatchFileOperation("batch4/empty.txt", "write"));

        response.ShouldHaveStatus(200);
        new FileInfo(Path.Combine(Agent.Root, "batch4", "empty.txt")).Length.Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task Paths_are_echoed_as_requested_even_when_absolute()
    {
        var absolute = Path.Combine(Agent.Root, "batch5", "abs.txt");

        var response = await BatchAsync(new BatchFileOperation(absolute, "write", "abs"), new BatchFileOperation("batch5/rel.txt", "write", "rel"));

        response.ShouldHaveStatus(200);
        var results = response.Envelope(AgentClient.Wire.EnvelopeBatchFilesData).Results;
        results.Select(r => r.Path).Should().Equal(new[] { absolute, "batch5/rel.txt" }.Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task An_empty_batch_succeeds_with_no_results()
    {
        var response = await BatchAsync();

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("results").GetArrayLength().Should().Be(0);
    }
}
