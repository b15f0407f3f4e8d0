using System.Text;
using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>
/// <c>command:&lt;cmd_id&gt;</c>: stdout/stderr chunks, <c>output:lost</c>, then <c>command:exit</c>. Tracks the byte offset
/// received so far in each stream, so a resubscription resumes exactly where this client stopped receiving.
/// </summary>
internal sealed class CommandStreamSubscription(string channel, int capacity) : QueueSubscription<CommandEvent>(channel, capacity)
{
    private long _stdout;
    private long _stderr;

    public override SubscribeData ResumeData() =>
        new(StdoutOffset: Interlocked.Read(ref _stdout), StderrOffset: Interlocked.Read(ref _stderr));

    public override async ValueTask OnMessageAsync(string type, JsonElement data, CancellationToken cancellationToken)
    {
        switch (type)
        {
            case "command:stdout" or "command:stderr":
                {
                    var chunk = data.Deserialize(LiveJsonContext.Default.CommandOutputEvent)!;
                    var isStdout = type == "command:stdout";
                    var current = isStdout ? Interlocked.Read(ref _stdout) : Interlocked.Read(ref _stderr);
                    if (chunk.NextOffset is { } n && n <= current)
                    {
                        return; // already received before a reconnect
                    }

                    var next = chunk.NextOffset ?? current + Encoding.UTF8.GetByteCount(chunk.Output);
                    CommandEvent item = isStdout ? new StandardOutputCommandEvent(chunk.Output) : new StandardErrorCommandEvent(chunk.Output);
                    if (await WriteAsync(item, cancellationToken).ConfigureAwait(false))
                    {
                        SetOffset(isStdout, next);
                    }

                    break;
                }

            case "output:lost":
                {
                    var lost = data.Deserialize(LiveJsonContext.Default.OutputLostEvent)!;
                    if (await WriteAsync(new OutputLostCommandEvent(lost.Stream, lost.LostBytes, lost.FirstAvailable), cancellationToken).ConfigureAwait(false))
                    {
                        SetOffset(lost.Stream != "stderr", lost.FirstAvailable);
                    }

                    break;
                }

            case "command:exit":
                {
                    var exit = data.Deserialize(LiveJsonContext.Default.CommandExitEvent)!;
                    await WriteAsync(new ExitedCommandEvent(exit.ExitCode), cancellationToken).ConfigureAwait(false);
                    End();
                    break;
                }

            default:
                break;
        }
    }

    private void SetOffset(bool stdout, long offset)
    {
        if (stdout)
        {
            Interlocked.Exchange(ref _stdout, offset);
        }
        else
        {
            Interlocked.Exchange(ref _stderr, offset);
        }
    }
}
