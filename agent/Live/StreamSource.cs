using System.Text;
using Sandboxd.Processes;
using Sandboxd.Protocol;

namespace Sandboxd.Live;

/// <summary>One byte stream of a stream channel and how its chunks become messages.</summary>
internal sealed record LogStream(string Name, OutputLog Log, bool Base64, Func<string, long, LiveMessage> Message);

/// <summary>
/// A channel backed by output logs (a PTY, a command's stdout+stderr). Each subscriber gets its own pump reading the
/// logs from an offset: a subscriber that names an offset resumes exactly there; one that does not starts where the
/// last delivery to anyone ended when nobody else is subscribed (so a reconnecting client loses and repeats nothing,
/// the spec's backlog rule done by offset), or at the live end otherwise. Evicted ranges are reported, never skipped
/// silently. After every log completes, the final message (exit, destroyed) is sent last.
/// </summary>
/// <param name="time">The clock of the <see cref="HoldLimit"/> (<see cref="TimeProvider.System"/> unless a test passes one).</param>
internal sealed class StreamSource(string channel, IReadOnlyList<LogStream> streams, Func<LiveMessage?> final, TimeProvider? time = null)
{
    public const int ChunkBytes = 32 * 1024;

    /// <summary>
    /// How long an incomplete UTF-8 sequence at the end of output (raw or base64) waits for its remaining bytes before
    /// it is sent as it is: a program that prints a partial character and then waits must still be seen. 500 ms, not
    /// 30: a writer whose stdio cuts a character between two write() calls can be descheduled for tens of ms on a busy
    /// machine, and a tail sent alone becomes U+FFFD on both sides (a fresh-clone CI run under stress-ng saw "wörld"
    /// arrive as "w��rld" in a 100 KB printf). A partial character shown half a second late costs nothing.
    /// </summary>
    public static readonly TimeSpan HoldLimit = TimeSpan.FromMilliseconds(500);
    private static readonly Task Never = new TaskCompletionSource().Task;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly long[] _delivered = new long[streams.Count];
    private int _activePumps;
    /// <remarks>Completed while no pump runs; guarded by <see cref="_gate"/>.</remarks>
    private TaskCompletionSource _idle = CompletedIdle();

    private static TaskCompletionSource CompletedIdle()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    /// <summary>How long a pump waits for its final message to reach the socket before it lets go.</summary>
    public static readonly TimeSpan FinalDeliveryLimit = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Completes once every pump has ended — after writing the final message to its socket, or being unsubscribed —
    /// or after <paramref name="timeout"/>. A DELETE waits for this before it answers: the real client drops its
    /// event handlers as soon as the DELETE returns, so terminal:destroyed must already be on the wire by then.
    /// </summary>
    public Task WhenPumpsEndedAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_gate)
        {
            idle = _idle.Task;
        }

        return idle.IsCompleted ? Task.CompletedTask : idle.WaitAsync(timeout).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    public string Channel { get; } = channel;

    public IReadOnlyList<LogStream> Streams { get; } = streams;

    public async Task PumpAsync(LiveConnection connection, IReadOnlyList<long?> requested, CancellationToken cancellationToken)
    {
        var cursor = new Cursor(StartPump(requested));
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var progressed = false;
                var allDone = true;
                for (var i = 0; i < Streams.Count; i++)
                {
                    var (sent, done) = await StepAsync(connection, cursor, i, cancellationToken).ConfigureAwait(false);
                    progressed |= sent;
                    allDone &= done;
                }

                if (progressed)
                {
                    continue;
                }

                if (allDone)
                {
                    await SendFinalAsync(connection, cancellationToken).ConfigureAwait(false);
                    return;
                }

                await Task.WhenAny(cursor.Waits).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // unsubscribed or socket closed
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // socket closed while we waited for room
        }
        finally
        {
            EndPump();
        }
    }

    /// <summary>Where one pump stands in each stream, and what it waits for.</summary>
    private sealed class Cursor(long[] offsets)
    {
        public long[] Offsets { get; } = offsets;
        public Task[] Waits { get; } = new Task[offsets.Length];
        /// <summary>Absolute offset of a held incomplete character per stream, -1 when nothing is held.</summary>
        public long[] HeldAt { get; } = [.. offsets.Select(_ => -1L)];
        /// <summary>When the held character was first held, a <see cref="TimeProvider.GetTimestamp"/> of the source's clock.</summary>
        public long[] HeldSince { get; } = new long[offsets.Length];
    }

    /// <summary>The offsets a new pump starts at (see the class summary), counted as a running pump.</summary>
    private long[] StartPump(IReadOnlyList<long?> requested)
    {
        var offsets = new long[Streams.Count];
        lock (_gate)
        {
            for (var i = 0; i < offsets.Length; i++)
            {
                offsets[i] = i < requested.Count && requested[i] is { } r ? r : _activePumps > 0 ? Streams[i].Log.End : _delivered[i];
            }

            if (_activePumps++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        return offsets;
    }

    private void EndPump()
    {
        lock (_gate)
        {
            if (--_activePumps == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Sends what stream <paramref name="i"/> has past the cursor (an <c>output:lost</c> first when the log evicted part
    /// of it) and sets what the cursor waits for next. Progressed: a chunk was sent; done: the stream is complete and sent.
    /// </summary>
    private async Task<(bool Progressed, bool Done)> StepAsync(LiveConnection connection, Cursor cursor, int i, CancellationToken cancellationToken)
    {
        var stream = Streams[i];
        var completed = stream.Log.IsCompleted;
        var chunk = stream.Log.Read(cursor.Offsets[i], ChunkBytes);
        if (chunk.Lost > 0)
        {
            await connection.SendAsync(LiveMessage.OutputLost(Channel,
                new OutputLostEvent(stream.Name, chunk.Lost, chunk.Offset)), cancellationToken).ConfigureAwait(false);
            cursor.Offsets[i] = chunk.Offset;
        }

        var length = SendableLength(cursor, i, chunk, completed && chunk.Offset + chunk.Count >= stream.Log.End);
        if (length > 0)
        {
            var text = stream.Base64 ? Convert.ToBase64String(chunk.Bytes, 0, length) : Encoding.UTF8.GetString(chunk.Bytes, 0, length);
            cursor.Offsets[i] = chunk.Offset + length;
            var delivered = cursor.Offsets[i];
            // Counted as delivered only once written to the socket: chunks still queued when a socket dies are resent to
            // the next subscriber that resumes without an offset.
            var message = stream.Message(text, delivered); // a fresh message per chunk
            message.Sent = () => MarkDelivered(i, delivered);
            await connection.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }

        var offset = cursor.Offsets[i];
        var pending = chunk.Offset + chunk.Count - offset; // bytes of an incomplete UTF-8 sequence held back
        cursor.Waits[i] = completed && offset + pending >= stream.Log.End ? Never : stream.Log.WaitForDataAsync(offset + pending, cancellationToken);
        if (pending > 0 && cursor.HeldAt[i] == offset)
        {
            var left = HoldLimit - _time.GetElapsedTime(cursor.HeldSince[i]);
            cursor.Waits[i] = Task.WhenAny(cursor.Waits[i], Task.Delay(left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1), _time, cancellationToken));
        }

        return (length > 0, completed && offset >= stream.Log.End);
    }

    /// <summary>
    /// How much of <paramref name="chunk"/> may go now: a character is not split across messages (raw or base64 —
    /// computesdk decodes every base64 chunk to a string on its own), unless its tail is overdue (<see cref="HoldLimit"/>)
    /// or the chunk ends the completed log.
    /// </summary>
    private int SendableLength(Cursor cursor, int i, OutputChunk chunk, bool endsCompletedLog)
    {
        if (chunk.Count == 0 || endsCompletedLog)
        {
            return chunk.Count;
        }

        var length = Utf8Boundary.CompleteLength(chunk.Bytes.AsSpan(0, chunk.Count));
        if (length < chunk.Count && chunk.Count < ChunkBytes)
        {
            var tail = chunk.Offset + length;
            if (cursor.HeldAt[i] != tail)
            {
                (cursor.HeldAt[i], cursor.HeldSince[i]) = (tail, _time.GetTimestamp());
            }
            else if (_time.GetElapsedTime(cursor.HeldSince[i]) >= HoldLimit)
            {
                length = chunk.Count;
            }
        }

        return length;
    }

    /// <summary>The final message (exit, destroyed), waited for until written to the socket, at most <see cref="FinalDeliveryLimit"/>.</summary>
    private async Task SendFinalAsync(LiveConnection connection, CancellationToken cancellationToken)
    {
        if (final() is not { } last)
        {
            return;
        }

        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        last.Sent = () => written.TrySetResult();
        await connection.SendAsync(last, cancellationToken).ConfigureAwait(false);
        await written.Task.WaitAsync(FinalDeliveryLimit, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
    }

    private void MarkDelivered(int stream, long offset)
    {
        lock (_gate)
        {
            _delivered[stream] = Math.Max(_delivered[stream], offset);
        }
    }
}
