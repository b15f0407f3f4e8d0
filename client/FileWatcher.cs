using System.Runtime.CompilerServices;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>
/// A file watcher and its events (<c>file:changed</c> on <c>watcher:&lt;id&gt;</c>). Events survive a reconnect (the agent
/// keeps them ≤ 10 s for an absent subscriber; duplicates are dropped by sequence number). A gap is reported as an
/// <see cref="OutputLostException"/> (<see cref="OutputLostException.Stream"/> = <c>events</c>) from the enumeration;
/// enumerating again continues after it. The enumeration ends when the watcher is destroyed.
/// </summary>
public sealed class FileWatcher : IAsyncDisposable
{
    private readonly SandboxClient _client;
    private readonly WatcherSubscription _subscription;

    internal FileWatcher(SandboxClient client, WatcherInfo info, WatcherSubscription subscription)
    {
        _client = client;
        _subscription = subscription;
        Info = info;
    }

    /// <summary>The watcher as created.</summary>
    public WatcherInfo Info { get; }

    /// <summary>The watcher id (<c>watcher_…</c>).</summary>
    public string Id => Info.Id;

    /// <summary>The events, in order, until the watcher is destroyed or this object is disposed.</summary>
    public async IAsyncEnumerable<FileChangedEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in _subscription.Items.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (item.Lost is { } lost)
            {
                throw lost;
            }

            yield return item.Event!;
        }
    }

    /// <summary>Deletes the watcher on the agent (the event stream then ends).</summary>
    public Task DestroyAsync(CancellationToken cancellationToken = default) => _client.Watchers.DeleteAsync(Id, cancellationToken);

    /// <summary>Stops listening; the watcher keeps running on the agent (use <see cref="DestroyAsync"/> to end it).</summary>
    public ValueTask DisposeAsync()
    {
        _client.Live.Unsubscribe(_subscription);
        return ValueTask.CompletedTask;
    }
}
