using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;

namespace Sandboxd.Tests.Terminals;

/// <summary>
/// Agent shutdown with PTY terminals open: an interactive bash ignores SIGTERM, so the agent hangs its terminals up
/// (SIGHUP, what closing a terminal does) instead of waiting out the grace period and killing them.
/// </summary>
public sealed partial class ShutdownTests
{
    [GeneratedRegex(@"Terminal (term_\w+) ended with exit code (\d+)")]
    private static partial Regex Ended();

    [Fact(Timeout = 120_000)]
    public async Task Sigterm_to_the_agent_hangs_up_its_interactive_shells_and_leaves_none_behind()
    {
        var ct = TestContext.Current.CancellationToken;
        var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        var shells = new List<int>();
        var ids = new List<string>();
        await using (agent)
        {
            using var client = new AgentClient(agent, agent.Token);
            await using var socket = await LiveSocket.ConnectAsync(agent, ct);
            for (var i = 0; i < 3; i++)
            {
                var id = await LiveApi.CreatePtyAsync(client, ct, ",\"shell\":\"/bin/bash\"");
                ids.Add(id);
                await socket.SubscribeAsync("terminal:" + id, ct);
                await socket.InputAsync(id, "echo shell-pid:$$\n", ct);
                var text = await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => Regex.IsMatch(o, @"shell-pid:\d+"), LiveApi.Quick, "the shell's pid", ct);
                shells.Add(int.Parse(Regex.Match(text, @"shell-pid:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            }

            (await agent.StopAsync(ct)).Should().Be(0);
        }

        shells.Where(ProcFs.Exists).Should().BeEmpty("every shell is gone once the agent has exited");
        var ended = Ended().Matches(agent.Stderr).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        ended.Keys.Should().Contain(ids);
        ids.Select(id => ended[id]).Should().OnlyContain(code => code == "129", "bash exits on SIGHUP (128+1); 137 would mean it had to be killed");
    }
}
