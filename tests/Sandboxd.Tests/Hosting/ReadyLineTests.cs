using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

/// <summary>The ready line names the address the agent is really bound to (issue 13 #12c).</summary>
public sealed class ReadyLineTests
{
    [Fact(Timeout = 60_000)]
    public async Task Bound_to_every_interface_the_ready_line_says_0_0_0_0_and_the_agent_answers_on_loopback()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.With("--host", "0.0.0.0"), ct);

        agent.ReadyLine.Should().MatchRegex(@"^sandboxd ready http://0\.0\.0\.0:\d+$");
        using var http = new HttpClient();
        var health = await http.GetAsync($"http://127.0.0.1:{agent.BaseUrl.Port}/health", ct);
        ((int)health.StatusCode).Should().Be(200);
    }
}
