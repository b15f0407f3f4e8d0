using System.Text;
using System.Text.RegularExpressions;

namespace Sandboxd.Client.Tests;

/// <summary>Command and PTY streams resume by byte offset: a consumer sees no gap and no duplicate across reconnects.</summary>
public sealed class StreamReconnectTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 180_000)]
    public async Task A_command_stream_survives_dropped_sockets_with_every_line_exactly_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        const int lines = 400;

        var stdout = new StringBuilder();
        var drops = 0;
        ExitedCommandEvent? exit = null;
        await foreach (var e in client.Run.StreamAsync($"for i in $(seq 1 {lines}); do echo $i; sleep 0.005; done", ct))
        {
            switch (e)
            {
                case StandardOutputCommandEvent o:
                    stdout.Append(o.Text);
                    var received = stdout.ToString().Count(c => c == '\n');
                    if ((drops == 0 && received >= 50) || (drops == 1 && received >= 150) || (drops == 2 && received >= 250))
                    {
                        client.Live.DropConnection();
                        drops++;
                    }

                    break;
                case OutputLostCommandEvent lost:
                    throw new InvalidOperationException($"unexpected loss: {lost}");
                case ExitedCommandEvent x:
                    exit = x;
                    break;
            }
        }

        exit.Should().Be(new ExitedCommandEvent(0));
        drops.Should().Be(3);
        stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Should().Equal(Enumerable.Range(1, lines));
        client.Live.ConnectCount.Should().BeGreaterThanOrEqualTo(4);
    }

    [Fact(Timeout = 180_000)]
    public async Task Output_produced_while_disconnected_is_replayed_from_the_exact_offset()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        const int lines = 300;

        var stdout = new StringBuilder();
        var stream = client.Run.StreamAsync($"for i in $(seq 1 {lines}); do echo $i; echo e$i >&2; sleep 0.005; done", ct).GetAsyncEnumerator(ct);
        await using (stream)
        {
            (await stream.MoveNextAsync()).Should().BeTrue();
            var started = (StartedCommandEvent)stream.Current;
            var stderr = new StringBuilder();
            while (stdout.ToString().Count(c => c == '\n') < 20 && await stream.MoveNextAsync())
            {
                Collect(stream.Current, stdout, stderr);
            }

            using (client.Live.HoldReconnect())
            {
                client.Live.DropConnection();
                await Eventually.UntilAsync(() => client.Terminals.GetCommandAsync(started.TerminalId!, started.CmdId, ct), c => c.Status != "running",
                    TimeSpan.FromSeconds(60), "the command to finish while the socket is down", ct);
            }

            while (await stream.MoveNextAsync())
            {
                stream.Current.Should().NotBeOfType<OutputLostCommandEvent>();
                Collect(stream.Current, stdout, stderr);
            }

            stdout.ToString().Should().Be(string.Concat(Enumerable.Range(1, lines).Select(i => $"{i}\n")));
            stderr.ToString().Should().Be(string.Concat(Enumerable.Range(1, lines).Select(i => $"e{i}\n")));
        }

        static void Collect(CommandEvent e, StringBuilder stdout, StringBuilder stderr)
        {
            if (e is StandardOutputCommandEvent o)
            {
                stdout.Append(o.Text);
            }
            else if (e is StandardErrorCommandEvent r)
            {
                stderr.Append(r.Text);
            }
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_pty_stream_survives_a_dropped_socket_without_gap_or_duplicate()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var output = new TerminalReader(terminal);

        await terminal.WriteAsync("for i in $(seq 1 300); do echo L$i; sleep 0.005; done; echo DO\"\"NE\n", ct);
        await output.WaitForAsync("L40\r\n", ct);
        client.Live.DropConnection();
        await output.WaitForAsync("L150\r\n", ct);
        client.Live.DropConnection();
        await output.WaitForAsync("DONE", ct, seconds: 60);

        var numbers = Regex.Matches(output.Text, @"(?:^|\r)L(\d+)\r$", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        numbers.Should().Equal(Enumerable.Range(1, 300), "the terminal showed:\n{0}", output.Text.Replace("\r", "\\r", StringComparison.Ordinal)[..Math.Min(2000, output.Text.Length)]);
        output.Lost.Should().BeEmpty();
        client.Live.ConnectCount.Should().BeGreaterThanOrEqualTo(3);
        await terminal.DestroyAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Input_written_while_disconnected_is_sent_after_the_reconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var output = new TerminalReader(terminal);
        await terminal.WriteAsync("echo up$((1+1))\n", ct);
        await output.WaitForAsync("up2", ct);

        Task write;
        using (client.Live.HoldReconnect())
        {
            client.Live.DropConnection();
            await Eventually.UntilAsync(() => client.Live.WaitConnectedAsync(ct).IsCompleted == false, TimeSpan.FromSeconds(10), "the socket to drop", ct);
            write = terminal.WriteAsync("echo queued$((2+3))\n", ct);
            write.IsCompleted.Should().BeFalse();
        }

        await write.WaitAsync(TimeSpan.FromSeconds(60), ct);
        await output.WaitForAsync("queued5", ct);
        await terminal.DestroyAsync(ct);
    }
}
