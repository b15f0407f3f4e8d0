using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;

namespace Sandboxd.Tests.Hosting;

/// <summary>
/// Every PTY, pipe, pidfd and socket is a descriptor. Started from a shell whose soft open-file limit is low, the agent
/// raises it to the hard limit (native AOT does not, unlike the CoreCLR host) so it is not stuck near a few hundred
/// terminals.
/// </summary>
[Collection(nameof(HeavyLiveCollection))]
public sealed partial class OpenFileLimitTests
{
    private const int SoftLimit = 256;
    private const int Terminals = 200; // each holds a PTY master and a pidfd: 400 descriptors, over the soft limit

    [GeneratedRegex(@"^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)", RegexOptions.Multiline)]
    private static partial Regex OpenFilesLine();

    [Fact(Timeout = 300_000)]
    public async Task An_agent_started_with_a_soft_limit_of_256_raises_it_to_the_hard_limit_and_holds_200_ptys()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch { Wrapper = ["prlimit", $"--nofile={SoftLimit}:"] }, ct);
        using var client = new AgentClient(agent, agent.Token);

        var limits = OpenFilesLine().Match(await File.ReadAllTextAsync($"/proc/{agent.Pid}/limits", ct));
        limits.Success.Should().BeTrue();
        limits.Groups[1].Value.Should().Be(limits.Groups[2].Value, "the soft limit is raised to the hard one");
        limits.Groups[2].Value.Should().NotBe(SoftLimit.ToString(CultureInfo.InvariantCulture), "the test needs a hard limit above its soft limit");

        var ids = new List<string>();
        try
        {
            for (var i = 0; i < Terminals; i++)
            {
                ids.Add(await LiveApi.CreatePtyAsync(client, ct, ",\"shell\":\"/bin/sh\""));
            }

            var run = await client.PostJsonAsync("/run/command", """{"command":"echo alive"}""", ct);
            run.Code.Should().Be(200, run.Describe());
            run.Data.GetProperty("stdout").GetString().Should().Be("alive\n");
        }
        finally
        {
            foreach (var id in ids)
            {
                await LiveApi.DeleteTerminalQuietlyAsync(client, id);
            }
        }
    }
}
