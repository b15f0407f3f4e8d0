using System.Threading.Channels;

namespace Sandboxd.Client.Live;

/// <summary>A subscription that hands its items to one consumer through a bounded queue (full = the socket waits).</summary>
internal abstract class QueueSubscription<T>(string channel, int capacity) : LiveSubscription(channel)
{
    private readonly Channel<T> _items = System.Threading.Channels.Channel.CreateBounded<T>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    public ChannelReader<T> Items => _items.Reader;

    /// <summary>Queues an item; false when the consumer already detached (the item is dropped with it).</summary>
    protected async ValueTask<bool> WriteAsync(T item, CancellationToken cancellationToken)
    {
        try
        {
            await _items.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException)
        {
            return false;
        }
    }

    /// <summary>The stream ended normally (exit, destroyed).</summary>
    protected void End() => _items.Writer.TryComplete();

    public override void Fail(Exception error) => _items.Writer.TryComplete(error);

    public override void Complete() => _items.Writer.TryComplete();
}
