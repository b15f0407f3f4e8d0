using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>One item of a watcher: an event, or a gap in the event sequence.</summary>
internal readonly record struct WatcherItem(FileChangedEvent? Event, OutputLostException? Lost);

/// <summary>
/// <c>watcher:&lt;id&gt;</c>: <c>file:changed</c> until <c>watcher:destroyed</c>. Events carry a sequence number, so a
/// redelivered event is dropped and a missing one (evicted from the agent's 10 s backlog while disconnected) is reported.
/// </summary>
internal sealed class WatcherSubscription(string channel, int capacity) : QueueSubscription<WatcherItem>(channel, capacity)
{
    /// <remarks>Only the socket's receive loop touches it.</remarks>
    private long _lastSeq;

    public override SubscribeData ResumeData() => new();

    public override async ValueTask OnMessageAsync(string type, JsonElement data, CancellationToken cancellationToken)
    {
        switch (type)
        {
            case "file:changed":
                {
                    var change = data.Deserialize(LiveJsonContext.Default.FileChangedEvent)!;
                    if (change.Seq is { } seq)
                    {
                        if (seq <= _lastSeq)
                        {
                            return;
                        }

                        if (seq > _lastSeq + 1)
                        {
                            var gap = new OutputLostException("events", seq - _lastSeq - 1, seq);
                            if (!await WriteAsync(new WatcherItem(null, gap), cancellationToken).ConfigureAwait(false))
                            {
                                return;
                            }
                        }

                        _lastSeq = seq;
                    }

                    await WriteAsync(new WatcherItem(change, null), cancellationToken).ConfigureAwait(false);
                    break;
                }

            case "watcher:destroyed":
                End();
                break;
            default:
                break; // watcher:created, watcher:warning
        }
    }
}
