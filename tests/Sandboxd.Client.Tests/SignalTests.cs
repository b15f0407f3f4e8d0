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
        await client.Signals.EmitPortAsync(21001, "open", "http://example.test:21001", ct);
        var derived = await client.Signals.EmitPortAsync(21002, "close", ct);
        await client.Signals.EmitErrorAsync("boom-41003", ct);
        await client.Signals.EmitServerReadyAsync(21004, "http://example.test:21004", ct);

        var mine = await ReadAsync(listener, 4, ct);

        listener.Status.Status.Should().Be("active");
        (await client.Signals.StatusAsync(ct)).Status.Should().Be("active");
        mine[0].Should().Be(new SignalEvent("port", 21001, "http://example.test:21001", "open"));
        mine[1].Should().BeEquivalentTo(new { Signal = "port", Port = 21002, Type = "close", Url = derived.Url });
        mine[2].Should().BeEquivalentTo(new { Signal = "error", Message = "boom-41003" });
        mine[3].Should().BeEquivalentTo(new { Signal = "server-ready", Port = 21004, Url = "http://example.test:21004" });
    }

    /// <summary>
    /// The next <paramref name="count"/> signals this test emitted: ports 21000-22999, error messages with "-4". The agent
    /// adds its own port signals for every listener of the host (other tests' agents and servers run in parallel), on
    /// ports the kernel picks from its ephemeral range (32768-60999 by default): the emitted ports stay outside it.
    /// </summary>
    internal static async Task<List<SignalEvent>> ReadAsync(SignalListener listener, int count, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var mine = new List<SignalEvent>();
        await foreach (var signal in listener.ReadAllAsync(timeout.Token))
        {
            if (signal.Port is >= 21000 and < 23000 || (signal.Signal == "error" && signal.Message?.Contains("-4", StringComparison.Ordinal) == true))
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
