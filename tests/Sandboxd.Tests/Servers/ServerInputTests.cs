using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Servers;

/// <summary>
/// Server definitions that posix_spawn cannot take (found by the reliability suite's fuzzer, tests/reliability): a NUL in
/// the environment was accepted with 201, the start then threw in the background and the agent crashed on SIGTERM
/// (exit 134); a huge restart_delay_ms overflowed TimeSpan (500). Each is a 400 now, and the agent stops cleanly.
/// </summary>
public sealed class ServerInputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Unspawnable => new()
    {
        """{"slug":"nul-env","start":"sleep 5","environment":{"A":"x\u0000y"}}""",
        """{"slug":"nul-key","start":"sleep 5","environment":{"A\u0000B":"x"}}""",
        """{"slug":"eq-key","start":"sleep 5","environment":{"A=B":"x"}}""",
        """{"slug":"nul-start","start":"sleep 5\u0000; echo"}""",
        """{"slug":"nul-install","start":"sleep 5","install":"true\u0000"}""",
        """{"slug":"huge-delay","start":"sleep 5","restart_delay_ms":1e300}""",
        """{"slug":"huge-stop","start":"sleep 5","stop_timeout_ms":1e300}""",
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Unspawnable))]
    public async Task A_server_definition_posix_spawn_cannot_take_is_a_400_and_the_agent_stops_cleanly(string body)
    {
        var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        try
        {
            var response = await agent.Client.PostJsonAsync("/servers", body, Ct);
            response.Code.Should().Be(400, response.Describe());
            response.Json.GetProperty("error").GetString().Should().NotBeNullOrEmpty();
            (await agent.Client.GetAsync("/servers", Ct)).Data.GetProperty("servers").GetArrayLength().Should().Be(0);
            (await agent.StopAsync(Ct)).Should().Be(0, $"the agent stops cleanly:\n{agent.StderrTail()}");
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_nul_in_the_env_file_fails_that_start_and_the_agent_lives_and_stops_cleanly()
    {
        var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(agent.Root, "bad.env"), "A=x\0y\n", Ct);
            var slug = Slug("nul-envfile");
            await StartAsync(agent.Client, new JsonObject { ["slug"] = slug, ["start"] = "sleep 30", ["env_file"] = "bad.env", ["autostart"] = false }, Ct);
            var server = await WaitForStatusAsync(agent.Client, slug, "failed", TimeSpan.FromSeconds(20), Ct);
            Status(server).Should().Be("failed");
            (await agent.Client.GetAsync("/health", Ct)).Code.Should().Be(200);
            (await agent.StopAsync(Ct)).Should().Be(0, $"the agent stops cleanly:\n{agent.StderrTail()}");
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }
}
