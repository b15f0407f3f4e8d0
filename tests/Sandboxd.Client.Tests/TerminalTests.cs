using System.Net;
using System.Text;

namespace Sandboxd.Client.Tests;

public sealed class TerminalTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task An_exec_terminal_runs_foreground_and_background_commands_and_keeps_their_records()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var terminal = await client.Terminals.CreateAsync(ct);
        var foreground = await client.Terminals.ExecuteAsync(terminal.Id, "echo hi", cancellationToken: ct);
        var background = await client.Terminals.ExecuteAsync(terminal.Id, "sleep 0.2; echo bg", background: true, ct);
        var waited = await client.Terminals.WaitCommandAsync(terminal.Id, background.CmdId!, TimeSpan.FromSeconds(60), ct);
        var list = await client.Terminals.ListCommandsAsync(terminal.Id, ct);
        var fetched = await client.Terminals.GetCommandAsync(terminal.Id, foreground.CmdId!, ct);

        terminal.Pty.Should().BeFalse();
        foreground.Stdout.Should().Be("hi\n");
        foreground.ExitCode.Should().Be(0);
        background.Status.Should().Be("running");
        waited.Stdout.Should().Be("bg\n");
        waited.Status.Should().Be("completed");
        list.Count.Should().Be(2);
        list.Commands.Select(c => c.CmdId).Should().Equal(foreground.CmdId, background.CmdId);
        fetched.Stdout.Should().Be("hi\n");
        (await client.Terminals.ListAsync(ct)).Select(t => t.Id).Should().Contain(terminal.Id);
        (await client.Terminals.GetAsync(terminal.Id, ct)).Pty.Should().BeFalse();

        await client.Terminals.DeleteAsync(terminal.Id, ct);
        var gone = () => client.Terminals.GetAsync(terminal.Id, ct);
        (await gone.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_pty_is_a_pipe_input_and_resize_reach_the_shell_and_its_exit_code_ends_the_stream()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        await using var terminal = await client.Terminals.OpenPtyAsync(new CreateTerminalRequest(Cols: 100, Rows: 30), ct);
        await using var output = new TerminalReader(terminal);
        await terminal.Stream.WriteAsync(Encoding.UTF8.GetBytes("stty size; echo hel\"\"lo\n"), ct);
        await output.WaitForAsync("30 100", ct);
        await output.WaitForAsync("hello", ct);

        await terminal.ResizeAsync(120, 40, ct);
        await terminal.WriteAsync("stty size\n", ct);
        await output.WaitForAsync("40 120", ct);

        // Ctrl-C is just a byte: it interrupts the remote sleep long before it would end.
        // (The marker comes from the process that becomes the sleep, so the sleep is in the foreground when ^C arrives.)
        await terminal.WriteAsync("sh -c 'echo sle\"\"eping; exec sleep 60'\n", ct);
        await output.WaitForAsync("sleeping", ct);
        await terminal.Stream.WriteAsync(new byte[] { 0x03 }, ct);
        await terminal.WriteAsync("echo after$((40+2))\n", ct);
        await output.WaitForAsync("after42", ct, seconds: 40);

        await terminal.WriteAsync("exit 5\n", ct);
        (await terminal.Exited.WaitAsync(TimeSpan.FromSeconds(60), ct)).Should().Be(5);
        await Eventually.UntilAsync(() => output.Ended, TimeSpan.FromSeconds(60), "the end of the stream", ct);
        output.Lost.Should().BeEmpty();
        (await client.Terminals.GetAsync(terminal.Id, ct)).Status.Should().Be("stopped");
        await terminal.DestroyAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_second_client_attaches_to_a_running_pty_from_its_first_byte_and_destroy_ends_both()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var first = _agent.Client();
        await using var second = _agent.Client();
        await using var terminal = await first.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var firstOutput = new TerminalReader(terminal);
        await terminal.WriteAsync("echo mark$((1+1))\n", ct);
        await firstOutput.WaitForAsync("mark2", ct);

        await using var attached = await second.Terminals.AttachPtyAsync(terminal.Id, cancellationToken: ct);
        await using var secondOutput = new TerminalReader(attached);
        await secondOutput.WaitForAsync("mark2", ct);
        await attached.WriteAsync("echo from$((2+2))second\n", ct);
        await firstOutput.WaitForAsync("from4second", ct);

        await attached.DestroyAsync(ct);

        await terminal.Exited.WaitAsync(TimeSpan.FromSeconds(60), ct);
        await attached.Exited.WaitAsync(TimeSpan.FromSeconds(60), ct);
        await Eventually.UntilAsync(() => firstOutput.Ended && secondOutput.Ended, TimeSpan.FromSeconds(60), "both streams to end", ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task Attaching_reads_the_kept_scrollback_and_only_an_explicit_offset_reports_what_was_evicted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var owner = _agent.Client();
        await using var terminal = await owner.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using var output = new TerminalReader(terminal);
        await terminal.WriteAsync("head -c 400000 /dev/zero | tr '\\0' z; echo; echo flo\"\"oded\n", ct);
        await output.WaitForAsync("flooded", ct, seconds: 120);

        await using var late = _agent.Client();
        await using var tail = await late.Terminals.AttachPtyAsync(terminal.Id, cancellationToken: ct);
        await using var tailOutput = new TerminalReader(tail);
        await using var strict = _agent.Client();
        await using var fromZero = await strict.Terminals.AttachPtyAsync(terminal.Id, offset: 0, ct);
        await using var fromZeroOutput = new TerminalReader(fromZero);

        await tailOutput.WaitForAsync("flooded", ct);
        await fromZeroOutput.WaitForAsync("flooded", ct);
        tailOutput.Lost.Should().BeEmpty();
        fromZeroOutput.Lost.Should().ContainSingle().Which.FirstAvailable.Should().BeGreaterThan(400_000 - 256 * 1024);
        await terminal.DestroyAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Pty_input_that_is_not_UTF8_reaches_the_shell_byte_for_byte()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("pty-bytes");
        await using var client = _agent.Client();
        await using var terminal = await client.Terminals.OpenPtyAsync(new CreateTerminalRequest(Cwd: dir), ct);
        await using var output = new TerminalReader(terminal);

        // In raw mode the line discipline passes every byte through; head takes exactly three.
        await terminal.WriteAsync("stty raw -echo; echo RE\"\"ADY; head -c 3 > raw.bin; stty sane; echo sa\"\"ved\n", ct);
        await output.WaitForAsync("READY", ct);
        await terminal.Stream.WriteAsync(new byte[] { 0xff, 0xfe, 0x41 }, ct);
        await output.WaitForAsync("saved", ct);

        (await File.ReadAllBytesAsync(Path.Combine(dir, "raw.bin"), ct)).Should().Equal(0xff, 0xfe, 0x41);
        await terminal.DestroyAsync(ct);
    }
}
