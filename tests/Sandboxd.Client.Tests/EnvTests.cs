using System.Net;

namespace Sandboxd.Client.Tests;

public sealed class EnvTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task Env_files_are_created_merged_read_and_trimmed()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.Combine(_agent.NewDirectory("env"), ".env");
        await using var client = _agent.Client();

        (await client.Env.ExistsAsync(file, ct)).Should().BeFalse();
        var written = await client.Env.SetAsync(file, new Dictionary<string, string> { ["A"] = "1", ["B"] = "two words" }, ct);
        await client.Env.SetAsync(file, new Dictionary<string, string> { ["A"] = "uno" }, ct);
        var variables = await client.Env.GetAsync(file, ct);
        var removed = await client.Env.DeleteAsync(file, ["B", "MISSING"], ct);

        written.Should().Equal("A", "B");
        variables.Should().BeEquivalentTo(new Dictionary<string, string> { ["A"] = "uno", ["B"] = "two words" });
        removed.Should().Equal("B");
        (await client.Env.ExistsAsync(file, ct)).Should().BeTrue();
        (await File.ReadAllTextAsync(file, ct)).Should().Be("A=uno\n");
    }

    [Fact(Timeout = 120_000)]
    public async Task Reading_a_missing_env_file_throws_404()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var act = () => client.Env.GetAsync(Path.Combine(_agent.Root, "no-such.env"), ct);

        (await act.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
