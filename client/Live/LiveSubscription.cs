using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>
/// One channel this client listens to. The socket's receive loop hands it every message of its channel, in order; the
/// subscription turns them into items for its consumer and remembers where a resubscription must resume.
/// </summary>
internal abstract class LiveSubscription(string channel)
{
    public string Channel { get; } = channel;

    /// <summary>What to send with <c>subscribe</c> now (first time or after a reconnect): the resume offsets, if any.</summary>
    public abstract SubscribeData ResumeData();

    /// <summary>Handles one message; waits when the consumer's buffer is full (that is the socket's back-pressure).</summary>
    public abstract ValueTask OnMessageAsync(string type, JsonElement data, CancellationToken cancellationToken);

    /// <summary>The socket gave up (or the client was disposed): end the consumer's stream with <paramref name="error"/>.</summary>
    public abstract void Fail(Exception error);

    /// <summary>The consumer detached: end its stream normally.</summary>
    public abstract void Complete();
}
