using System.Text;
using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>One item of a PTY's output: bytes, a gap, or the end (with the shell's exit code).</summary>
internal readonly record struct PtyItem(byte[]? Bytes, OutputLostException? Lost, int? ExitCode);

/// <summary><c>terminal:&lt;id&gt;</c>: output bytes by offset, <c>output:lost</c>, then <c>terminal:destroyed</c>.</summary>
internal sealed class PtySubscription(string channel, int capacity, long offset, bool acceptInitialGap = false)
    : QueueSubscription<PtyItem>(channel, capacity)
{
    private long _offset = offset;

    /// <remarks>Only the receive loop touches it: true until the first output or gap has been handled.</remarks>
    private bool _atStart = true;

    /// <summary>Completed with the exit code on <c>terminal:destroyed</c> (as received, ahead of the consumer's reads).</summary>
    public TaskCompletionSource<int> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override SubscribeData ResumeData() => new(Offset: Interlocked.Read(ref _offset));

    public override async ValueTask OnMessageAsync(string type, JsonElement data, CancellationToken cancellationToken)
    {
        switch (type)
        {
            case "terminal:output":
                {
                    var chunk = data.Deserialize(LiveJsonContext.Default.TerminalOutputEvent)!;
                    var current = Interlocked.Read(ref _offset);
                    if (chunk.NextOffset is { } n && n <= current)
                    {
                        return; // already received before a reconnect
                    }

                    _atStart = false;
                    var bytes = chunk.Encoding == "base64" ? Convert.FromBase64String(chunk.Output) : Encoding.UTF8.GetBytes(chunk.Output);
                    if (await WriteAsync(new PtyItem(bytes, null, null), cancellationToken).ConfigureAwait(false))
                    {
                        Interlocked.Exchange(ref _offset, chunk.NextOffset ?? current + bytes.Length);
                    }

                    break;
                }

            case "output:lost":
                {
                    var lost = data.Deserialize(LiveJsonContext.Default.OutputLostEvent)!;
                    if (acceptInitialGap && _atStart)
                    {
                        // Attaching "from the oldest byte still kept": scrollback that is already gone is not a gap.
                        _atStart = false;
                        Interlocked.Exchange(ref _offset, lost.FirstAvailable);
                        break;
                    }

                    _atStart = false;
                    var error = new OutputLostException(lost.Stream, lost.LostBytes, lost.FirstAvailable);
                    if (await WriteAsync(new PtyItem(null, error, null), cancellationToken).ConfigureAwait(false))
                    {
                        Interlocked.Exchange(ref _offset, lost.FirstAvailable);
                    }

                    break;
                }

            case "terminal:destroyed":
                {
                    var destroyed = data.Deserialize(LiveJsonContext.Default.TerminalDestroyedEvent)!;
                    Exited.TrySetResult(destroyed.ExitCode ?? -1);
                    await WriteAsync(new PtyItem(null, null, destroyed.ExitCode ?? -1), cancellationToken).ConfigureAwait(false);
                    End();
                    break;
                }

            default:
                break; // terminal:created (our own, re-announced), terminal:error (input after the shell ended)
        }
    }

    public override void Fail(Exception error)
    {
        Exited.TrySetException(error);
        base.Fail(error);
    }
}
