namespace Sandboxd.Client.Tests;

/// <summary>Agent behaviours the client cannot paper over, found as repros and kept as regression tests once fixed.</summary>
public sealed class KnownAgentIssuesTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task A_pty_deleted_while_the_client_is_disconnected_still_reports_its_end_after_the_reconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var admin = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var output = new TerminalReader(terminal);
        await terminal.WriteAsync("echo mark$((1+1))\n", ct);
        await output.WaitForAsync("mark2", ct);

        using (client.Live.HoldReconnect())
        {
            client.Live.DropConnection();
            await Eventually.UntilAsync(() => !client.Live.WaitConnectedAsync(ct).IsCompleted, TimeSpan.FromSeconds(10), "the socket to drop", ct);
            await admin.Terminals.DeleteAsync(terminal.Id, ct);
        }

        await terminal.Exited.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_trailing_non_ascii_byte_is_delivered_without_waiting_for_more_output()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
        try
        {
            await terminal.WriteAsync("stty -echo; printf 'A\\342'; sleep 60\n", ct);
            var seen = new List<byte>();
            var buffer = new byte[4096];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            while (!(seen.Count > 1 && seen[^1] == 0xE2 && seen[^2] == (byte)'A'))
            {
                var count = await terminal.Stream.ReadAsync(buffer, timeout.Token);
                seen.AddRange(buffer.AsSpan(0, count).ToArray());
            }
        }
        finally
        {
            await terminal.DestroyAsync(ct);
        }
    }
}
