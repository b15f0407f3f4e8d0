using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>File watchers (<c>/watchers</c>): recursive change events over the WebSocket.</summary>
public sealed class WatchersClient
{
    private readonly SandboxClient _client;

    internal WatchersClient(SandboxClient client) => _client = client;

    /// <summary>Watches a directory recursively and listens to its events.</summary>
    public Task<FileWatcher> CreateAsync(string path, bool includeContent = false, IReadOnlyList<string>? ignored = null,
        CancellationToken cancellationToken = default) =>
        CreateAsync(new CreateWatcherRequest(path, includeContent, ignored), cancellationToken);

    /// <summary><c>POST /watchers</c> as given, then subscribes (events in between are kept by the agent for the subscriber).</summary>
    public async Task<FileWatcher> CreateAsync(CreateWatcherRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var live = _client.Live;
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/watchers", request,
            ProtocolJsonContext.Default.CreateWatcherRequest, ProtocolJsonContext.Default.EnvelopeWatcherInfo, cancellationToken).ConfigureAwait(false);
        var info = envelope.Data;
        var subscription = new WatcherSubscription(info.Channel, _client.Options.StreamBufferCapacity);
        await live.SubscribeAsync(subscription, cancellationToken).ConfigureAwait(false);
        return new FileWatcher(_client, info, subscription);
    }

    /// <summary>Every watcher of the sandbox.</summary>
    public async Task<IReadOnlyList<WatcherInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/watchers", ProtocolJsonContext.Default.EnvelopeWatcherList, cancellationToken)
            .ConfigureAwait(false)).Data.Watchers;

    /// <summary>One watcher.</summary>
    public async Task<WatcherInfo> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/watchers/" + Uri.EscapeDataString(id), ProtocolJsonContext.Default.EnvelopeWatcherInfo,
            cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>Stops and deletes a watcher.</summary>
    public Task DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, "/watchers/" + Uri.EscapeDataString(id), cancellationToken);
}
