using System.Text;

namespace Sandboxd.Client.Tests;

/// <summary>An agent with a tiny replay window (<c>--output-cap 4096</c>): output evicted while disconnected is reported, never skipped silently.</summary>
public sealed class OutputLostTests(OutputLostTests.SmallCapAgent fixture) : IClassFixture<OutputLostTests.SmallCapAgent>
{
    private readonly Agent _agent = fixture.Agent;

    public sealed class SmallCapAgent : IAsyncLifetime
    {
        public Agent Agent { get; private set; } = null!;

        public async ValueTask InitializeAsync() => Agent = await Agent.StartAsync(["--output-cap", "4096"]);

        public ValueTask DisposeAsync() => Agent?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    [Fact(Timeout = 180_000)]
    public async Task A_command_stream_reports_output_evicted_while_disconnected_then_continues_to_the_exit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var stream = client.Run.StreamAsync("echo first; sleep 2; head -c 100000 /dev/zero | tr '\\0' x; echo; echo last", ct)
            .GetAsyncEnumerator(ct);
        await using (stream)
        {
            (await stream.MoveNextAsync()).Should().BeTrue();
            var started = (StartedCommandEvent)stream.Current;
            (await stream.MoveNextAsync()).Should().BeTrue();
            stream.Current.Should().Be(new StandardOutputCommandEvent("first\n"));

            using (client.Live.HoldReconnect())
            {
                client.Live.DropConnection();
                await Eventually.UntilAsync(() => client.Terminals.GetCommandAsync(started.TerminalId!, started.CmdId, ct), c => c.Status != "running",
                    TimeSpan.FromSeconds(60), "the command to finish while the socket is down", ct);
            }

            var rest = new List<CommandEvent>();
            while (await stream.MoveNextAsync())
            {
                rest.Add(stream.Current);
            }

            const int total = 6 + 100_000 + 6; // "first\n" + the flood + "\nlast\n"
            var lost = rest.OfType<OutputLostCommandEvent>().Should().ContainSingle().Subject;
            var lostAt = rest.IndexOf(lost);
            var before = 6 + rest.Take(lostAt).OfType<StandardOutputCommandEvent>().Sum(o => Encoding.UTF8.GetByteCount(o.Text));
            var after = string.Concat(rest.Skip(lostAt).OfType<StandardOutputCommandEvent>().Select(o => o.Text));
            lost.Stream.Should().Be("stdout");
            lost.LostBytes.Should().BeGreaterThan(0);
            lost.FirstAvailable.Should().Be(before + lost.LostBytes, "the gap starts exactly where this client stopped receiving");
            (before + lost.LostBytes + Encoding.UTF8.GetByteCount(after)).Should().Be(total, "nothing is lost or repeated besides the reported gap");
            after.Should().EndWith("x\nlast\n");
            rest[^1].Should().Be(new ExitedCommandEvent(0));
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_pty_stream_throws_OutputLostException_once_for_evicted_output_and_then_keeps_reading()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Path.Combine(_agent.NewDirectory("pty-lost"), "done");
        await using var client = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var output = new TerminalReader(terminal);
        await terminal.WriteAsync("echo rea\"\"dy\n", ct);
        await output.WaitForAsync("ready", ct);

        // Start a flood larger than the 256 KiB scrollback, then drop the socket until it is over.
        await terminal.WriteAsync($"sleep 2; head -c 600000 /dev/zero | tr '\\0' y; echo; touch {marker}; echo fi\"\"nished\n", ct);
        await output.WaitForAsync("fi\"\"nished", ct); // the shell echoed the line: it has it
        using (client.Live.HoldReconnect())
        {
            client.Live.DropConnection();
            await Eventually.UntilAsync(() => File.Exists(marker), TimeSpan.FromSeconds(60), "the flood to end", ct);
        }

        await output.WaitForAsync("finished", ct, seconds: 60);
        output.Lost.Should().ContainSingle().Which.Stream.Should().Be("output");
        output.Lost[0].LostBytes.Should().BeGreaterThan(0);
        await terminal.DestroyAsync(ct);
    }
}
