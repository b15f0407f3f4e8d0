using System.Diagnostics;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>A socket that never reads must not block the agent, other sockets, or the flooding process itself.</summary>
[Collection(nameof(HeavyLiveCollection))]
public sealed class SlowConsumerTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 90_000)]
    public async Task A_subscriber_that_never_reads_blocks_neither_other_sockets_nor_foreground_commands_nor_the_flooding_command()
    {
        var ct = TestContext.Current.CancellationToken;
        var (floodId, floodChannel, floodTerminal) = await LiveApi.PendingCommandWithTerminalAsync(Client, "yes | head -c 50000000; echo flood-done", ct);
        await using var stalled = await LiveSocket.ConnectAsync(Agent, ct, "json", read: false);
        await stalled.SubscribeAsync(floodChannel, ct);
        await stalled.StartCommandAsync(floodId, ct);

        // The stalled socket's buffers fill within a fraction of the 50 MB; meanwhile everybody else is served promptly.
        await using var other = await LiveSocket.ConnectAsync(Agent, ct);
        for (var round = 0; round < 3; round++)
        {
            var clock = Stopwatch.StartNew();
            var (okId, okChannel) = await LiveApi.PendingCommandAsync(Client, $"echo ok-{round}", ct);
            await other.SubscribeAsync(okChannel, ct);
            await other.StartCommandAsync(okId, ct);
            await other.WaitForAsync("command:exit", okChannel, TimeSpan.FromSeconds(5), ct);
            other.Output("command:stdout", okChannel).Should().Be($"ok-{round}\n");
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));

            clock.Restart();
            var foreground = await Client.RunAsync($"echo fg-{round}", ct);
            foreground.Stdout.Should().Be($"fg-{round}\n");
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "a foreground command answers quickly during the flood");
        }

        var status = await LiveApi.WaitCommandFinishedAsync(Client, floodTerminal, floodId, TimeSpan.FromSeconds(45), ct);
        status.Should().Be("completed", "the flood is captured into the agent's log, never held back by the unread socket");
        var record = await Client.GetAsync($"/terminals/{floodTerminal}/commands/{floodId}", ct);
        record.Data.GetProperty("stdout").GetString().Should().EndWith("y\nflood-done\n");
    }

    [Fact(Timeout = 90_000)]
    public async Task A_pty_flooding_a_socket_that_never_reads_still_runs_to_completion()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = await LiveApi.CreatePtyAsync(Client, ct);
        var channel = "terminal:" + id;
        await using var stalled = await LiveSocket.ConnectAsync(Agent, ct, "binary", read: false);
        await stalled.SubscribeAsync(channel, ct);
        var marker = Path.Combine(Agent.Root, $"pty-flood-{Guid.NewGuid():N}");

        await stalled.InputAsync(id, $"yes | head -c 20000000; touch {marker}\n", ct);

        await Eventually.UntilAsync(() => File.Exists(marker), TimeSpan.FromSeconds(60), "the PTY flood to finish (marker file)", ct);
        await using var other = await LiveSocket.ConnectAsync(Agent, ct);
        var (okId, okChannel) = await LiveApi.PendingCommandAsync(Client, "echo ok", ct);
        await other.SubscribeAsync(okChannel, ct);
        await other.StartCommandAsync(okId, ct);
        await other.WaitForAsync("command:exit", okChannel, TimeSpan.FromSeconds(5), ct);
        await LiveApi.DeleteTerminalQuietlyAsync(Client, id);
    }
}
