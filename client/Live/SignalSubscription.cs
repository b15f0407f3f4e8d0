using System.Text.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Live;

/// <summary>The <c>signals</c> channel: every <c>signal</c> message, in order.</summary>
internal sealed class SignalSubscription(string channel, int capacity) : QueueSubscription<SignalEvent>(channel, capacity)
{
    public override SubscribeData ResumeData() => new();

    public override async ValueTask OnMessageAsync(string type, JsonElement data, CancellationToken cancellationToken)
    {
        if (type == "signal")
        {
            await WriteAsync(data.Deserialize(LiveJsonContext.Default.SignalEvent)!, cancellationToken).ConfigureAwait(false);
        }
    }
}
