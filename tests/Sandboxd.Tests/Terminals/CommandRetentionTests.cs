using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Terminals;

/// <summary>Own agent: fills the implicit terminal's history.</summary>
public sealed class CommandRetentionTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task A_terminal_keeps_the_last_100_commands_oldest_first()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = fixture.Client;
        var first = await client.RunAsync("echo 0", ct);
        var results = new List<Sandboxd.Protocol.CommandResult> { first };
        for (var i = 1; i < 105; i++)
        {
            results.Add(await client.RunAsync($"echo {i}", ct));
        }

        var list = await client.GetAsync($"/terminals/{first.TerminalId}/commands", ct);

        list.ShouldHaveStatus(200);
        var ids = list.Data.GetProperty("commands").EnumerateArray().Select(c => c.GetProperty("cmd_id").GetString()).ToList();
        ids.Should().Equal(results.Skip(5).Select(r => r.CmdId));
        list.Data.GetProperty("count").GetInt32().Should().Be(100);
        (await client.GetAsync($"/terminals/{first.TerminalId}/commands/{first.CmdId}", ct)).ShouldBeError(404);
        (await client.GetAsync($"/terminals/{first.TerminalId}/commands/{results[^1].CmdId}", ct)).ShouldHaveStatus(200);
    }
}
