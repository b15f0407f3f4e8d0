namespace Sandboxd.Client.Tests;

/// <summary>
/// Signals and watcher events have no offsets: across a reconnect they rely on the agent's backlog (kept ≤ 10 s for a
/// channel nobody listens to) and, for watchers, on sequence numbers. Each test waits until the agent has noticed the
/// drop before producing events: what is published to a socket the agent still believes alive is lost with it.
/// </summary>
public sealed class DiscreteEventReconnectTests(DebugAgent fixture) : IClassFixture<DebugAgent>
{
    private readonly Agent _agent = fixture.Agent;

    [Fact(Timeout = 120_000)]
    public async Task Signals_emitted_while_the_socket_is_down_arrive_after_the_reconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var listener = await client.Signals.ListenAsync(ct);
        await client.Signals.EmitErrorAsync("before-42000", ct);
        (await SignalTests.ReadAsync(listener, 1, ct))[0].Message.Should().Be("before-42000");

        using (client.Live.HoldReconnect())
        {
            var closed = _agent.ClosedWebSockets;
            client.Live.DropConnection();
            await _agent.WaitForClosedWebSocketAsync(closed, ct);
            await client.Signals.EmitErrorAsync("while-down-42001", ct);
            await client.Signals.EmitErrorAsync("while-down-42002", ct);
        }

        var after = await SignalTests.ReadAsync(listener, 2, ct);
        after.Select(s => s.Message).Should().Equal("while-down-42001", "while-down-42002");
        client.Live.ConnectCount.Should().Be(2);
    }

    [Fact(Timeout = 120_000)]
    public async Task Watcher_events_produced_while_the_socket_is_down_arrive_once_and_in_order_after_the_reconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("watch-reconnect");
        await using var client = _agent.Client();
        await using var watcher = await client.Watchers.CreateAsync(dir, cancellationToken: ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "0.txt"), "0", ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        var events = watcher.ReadEventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await using (events)
        {
            (await events.MoveNextAsync()).Should().BeTrue();
            events.Current.Path.Should().EndWith("0.txt");

            using (client.Live.HoldReconnect())
            {
                var closed = _agent.ClosedWebSockets;
                client.Live.DropConnection();
                await _agent.WaitForClosedWebSocketAsync(closed, ct);
                for (var i = 1; i <= 3; i++)
                {
                    await File.WriteAllTextAsync(Path.Combine(dir, $"{i}.txt"), $"{i}", ct);
                }

                // The agent debounces for 100 ms before it publishes: wait until every add is out (and backlogged).
                await Eventually.UntilAsync(async () => (await client.Files.ListAsync(dir, ct)).Files.Count == 4, TimeSpan.FromSeconds(5), "files", ct);
            }

            var seen = new List<FileChangedEvent>();
            while (seen.Count(e => e.Event == "add") < 3 && await events.MoveNextAsync())
            {
                seen.Add(events.Current);
            }

            seen.Where(e => e.Event == "add").Select(e => Path.GetFileName(e.Path)).Should().Equal("1.txt", "2.txt", "3.txt");
            seen.Select(e => e.Seq).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        }
    }
}
