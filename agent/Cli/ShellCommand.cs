using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Sandboxd.Client;
using Sandboxd.Native;
using Sandboxd.Protocol;

namespace Sandboxd.Cli;

/// <summary>
/// <c>sandboxd shell</c>: a remote PTY in this terminal. The local terminal is put in raw mode, so every key (Ctrl-C
/// included) is forwarded as bytes; SIGWINCH forwards the window size; the terminal is restored on every exit path; the
/// command ends, with the remote shell's exit code, when the remote shell exits.
/// </summary>
internal static class ShellCommand
{
    public static async Task<int> RunAsync(ClientOptions options, string[] args)
    {
        if (args.Length > 0)
        {
            Console.Error.WriteLine($"sandboxd shell: unexpected argument '{args[0]}' (use sandboxd exec to run a command)");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        var resizes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        var stoppedBy = 0;
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // leave through the finally blocks: the terminal must be restored
            Interlocked.CompareExchange(ref stoppedBy, (int)context.Signal, 0);
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the signal came as the command was returning: nothing left to stop
            }
        }

        using var sigwinch = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => resizes.Writer.TryWrite(true));
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        await using var client = new SandboxClient(options.Url, options.Token);
        PtyTerminal terminal;
        try
        {
            var (cols, rows) = LibC.TryGetWindowSize(out var c, out var r) ? (c, r) : (80, 24);
            terminal = await client.Terminals.OpenPtyAsync(
                new CreateTerminalRequest(Shell: options.Shell, Cols: cols, Rows: rows, Cwd: options.Cwd, Env: options.Env.Count > 0 ? options.Env : null),
                stop.Token);
        }
        catch (Exception e) when (e is SandboxdException or HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"sandboxd shell: {e.Message}");
            return ExecCommand.ClientFailure;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 130;
        }

        await using (terminal)
        {
            var saved = LibC.EnterRawMode();
            string? failure = null;
            var lost = 0L;
            try
            {
                using var done = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                var input = PumpInputAsync(terminal, done.Token);
                var resize = PumpResizesAsync(terminal, resizes.Reader, done.Token);
                try
                {
                    lost = await PumpOutputAsync(terminal, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // a signal ended the session
                }
                catch (SandboxdException e)
                {
                    failure = e.Message;
                }

                await done.CancelAsync();
                await Task.WhenAll(Quietly(resize), Quietly(input));
            }
            finally
            {
                if (saved is not null)
                {
                    LibC.RestoreTerminal(saved);
                }
            }

            if (lost > 0)
            {
                Console.Error.WriteLine($"sandboxd shell: {lost} bytes of terminal output were lost while disconnected");
            }

            if (failure is not null)
            {
                Console.Error.WriteLine($"sandboxd shell: {failure}");
                return ExecCommand.ClientFailure;
            }

            if (terminal.Exited.IsCompletedSuccessfully)
            {
                await DestroyQuietlyAsync(terminal); // the agent keeps a stopped terminal listed until it is deleted
                return terminal.Exited.Result is >= 0 and <= 255 ? terminal.Exited.Result : ExecCommand.ClientFailure;
            }

            // Our side went away (signal): hang up the remote shell too, as closing a terminal window does.
            await DestroyQuietlyAsync(terminal);
            return 128 + (stoppedBy == 0 ? 1 : PosixSignalNumber((PosixSignal)stoppedBy));
        }
    }

    /// <summary>Copies terminal output to stdout until the remote shell ends; returns how many bytes were lost on the way.</summary>
    private static async Task<long> PumpOutputAsync(PtyTerminal terminal, CancellationToken cancellationToken)
    {
        await using var stdout = LibC.OpenStandardOutput();
        var buffer = new byte[32 * 1024];
        long lost = 0;
        while (true)
        {
            int read;
            try
            {
                read = await terminal.Stream.ReadAsync(buffer, cancellationToken);
            }
            catch (OutputLostException e)
            {
                lost += e.LostBytes;
                await stdout.WriteAsync(Encoding.UTF8.GetBytes($"\r\n[sandboxd: {e.LostBytes} bytes of output lost]\r\n"), cancellationToken);
                continue;
            }

            if (read == 0)
            {
                return lost;
            }

            await stdout.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    /// <summary>Forwards every byte typed (or piped) on stdin as terminal input; stops at end of input.</summary>
    private static async Task PumpInputAsync(PtyTerminal terminal, CancellationToken cancellationToken)
    {
        await using var stdin = LibC.OpenStandardInput();
        var buffer = new byte[4096];
        while (true)
        {
            // A blocking read of a terminal cannot be cancelled; WaitAsync lets the session end without it.
            var read = await stdin.ReadAsync(buffer, CancellationToken.None).AsTask().WaitAsync(cancellationToken);
            if (read == 0)
            {
                return;
            }

            await terminal.WriteAsync(buffer.AsMemory(0, read).ToArray(), cancellationToken);
        }
    }

    private static async Task PumpResizesAsync(PtyTerminal terminal, ChannelReader<bool> resizes, CancellationToken cancellationToken)
    {
        await foreach (var _ in resizes.ReadAllAsync(cancellationToken))
        {
            if (LibC.TryGetWindowSize(out var cols, out var rows))
            {
                await terminal.ResizeAsync(cols, rows, cancellationToken);
            }
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SandboxdException or ObjectDisposedException)
        {
            // the session is over; input and resize pumps have nothing left to do
        }
    }

    private static async Task DestroyQuietlyAsync(PtyTerminal terminal)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await terminal.DestroyAsync(timeout.Token);
        }
        catch (Exception e) when (e is SandboxdException or HttpRequestException or OperationCanceledException)
        {
            // already gone, or the agent is unreachable: nothing more to clean up from here
        }
    }

    private static int PosixSignalNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGTERM => 15,
        _ => 1,
    };
}
