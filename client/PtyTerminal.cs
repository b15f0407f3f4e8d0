using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>
/// An interactive PTY terminal attached over the client's WebSocket. <see cref="Stream"/> is the pipe end: reads return
/// the terminal's output bytes (0 once the shell has ended), writes are keyboard input (byte-exact; Ctrl-C is just
/// <c>0x03</c>). A reconnect in between is invisible: output resumes at the exact byte offset. If output was evicted
/// from the agent's 256 KiB scrollback before this client read it, one read throws <see cref="OutputLostException"/> and
/// the next continues after the gap.
/// </summary>
public sealed class PtyTerminal : IAsyncDisposable
{
    private readonly SandboxClient _client;
    private readonly PtySubscription _subscription;

    internal PtyTerminal(SandboxClient client, TerminalInfo info, PtySubscription subscription)
    {
        _client = client;
        _subscription = subscription;
        Info = info;
        Stream = new PtyStream(this, subscription.Items);
    }

    /// <summary>The terminal as the agent described it when it was created or attached.</summary>
    public TerminalInfo Info { get; }

    /// <summary>The terminal id (<c>term_…</c>).</summary>
    public string Id => Info.Id;

    /// <summary>Read: output bytes; write: input bytes. Async only (sync <c>Read</c>/<c>Write</c> throw).</summary>
    public Stream Stream { get; }

    /// <summary>Completes with the shell's exit code when the agent reports <c>terminal:destroyed</c>.</summary>
    public Task<int> Exited => _subscription.Exited.Task;

    /// <summary>Sends text as input (<c>terminal:input</c>); completes once the frame is on the socket.</summary>
    public Task WriteAsync(string input, CancellationToken cancellationToken = default) =>
        _client.Live.SendAsync(ClientFrames.TerminalInput(Id, input, NewSent()), cancellationToken);

    /// <summary>Sends raw bytes as input; completes once the frame is on the socket.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> input, CancellationToken cancellationToken = default) =>
        input.IsEmpty ? Task.CompletedTask : _client.Live.SendAsync(ClientFrames.TerminalInputBytes(Id, input.Span, NewSent()), cancellationToken);

    /// <summary>Resizes the terminal (<c>terminal:resize</c>; the shell gets SIGWINCH).</summary>
    public Task ResizeAsync(int cols, int rows, CancellationToken cancellationToken = default) =>
        _client.Live.SendAsync(ClientFrames.TerminalResize(Id, cols, rows, NewSent()), cancellationToken);

    /// <summary>Deletes the terminal on the agent (SIGHUP to its shell); the stream then ends.</summary>
    public Task DestroyAsync(CancellationToken cancellationToken = default) => _client.Terminals.DeleteAsync(Id, cancellationToken);

    /// <summary>Stops listening; the terminal keeps running on the agent (use <see cref="DestroyAsync"/> to end it).</summary>
    public ValueTask DisposeAsync()
    {
        _client.Live.Unsubscribe(_subscription);
        return ValueTask.CompletedTask;
    }

    private static TaskCompletionSource NewSent() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
