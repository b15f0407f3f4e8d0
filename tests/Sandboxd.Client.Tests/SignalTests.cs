namespace Sandboxd.Client.Tests;

/// <summary>One class (tests run in sequence) owns the shared agent's signal service.</summary>
public sealed class SignalTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task Emitted_signals_arrive_in_order_on_the_listener()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        await using var listener = await client.Signals.ListenAsync(ct);
        await client.Signals.EmitPortAsync(41001, "open", "http://example.test:41001", ct);
        var derived = await client.Signals.EmitPortAsync(41002, "close", ct);
        await client.Signals.EmitErrorAsync("boom-41003", ct);
        await client.Signals.EmitServerReadyAsync(41004, "http://example.test:41004", ct);

        var mine = await ReadAsync(listener, 4, ct);

        listener.Status.Status.Should().Be("active");
        (await client.Signals.StatusAsync(ct)).Status.Should().Be("active");
        mine[0].Should().Be(new SignalEvent("port", 41001, "http://example.test:41001", "open"));
        mine[1].Should().BeEquivalentTo(new { Signal = "port", Port = 41002, Type = "close", Url = derived.Url });
        mine[2].Should().BeEquivalentTo(new { Signal = "error", Message = "boom-41003" });
        mine[3].Should().BeEquivalentTo(new { Signal = "server-ready", Port = 41004, Url = "http://example.test:41004" });
    }

    /// <summary>The next <paramref name="count"/> signals this test emitted (ports 41000-42999; the agent may add its own).</summary>
    internal static async Task<List<SignalEvent>> ReadAsync(SignalListener listener, int count, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var mine = new List<SignalEvent>();
        await foreach (var signal in listener.ReadAllAsync(timeout.Token))
        {
            if (signal.Port is >= 41000 and < 43000 || signal.Message?.Contains("-4", StringComparison.Ordinal) == true)
            {
                mine.Add(signal);
                if (mine.Count == count)
                {
                    break;
                }
            }
        }

        return mine;
    }
}
