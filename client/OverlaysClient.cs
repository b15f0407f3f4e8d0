using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Filesystem overlays (<c>/filesystem/overlays</c>): bootstrap a directory from a template.</summary>
public sealed class OverlaysClient
{
    private readonly SandboxClient _client;

    internal OverlaysClient(SandboxClient client) => _client = client;

    /// <summary>Creates an overlay; with <paramref name="waitForCompletion"/> also waits until its background copy is complete.</summary>
    public async Task<OverlayInfo> CreateAsync(CreateOverlayRequest request, bool waitForCompletion = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var overlay = await _client.Transport.SendAsync(HttpMethod.Post, "/filesystem/overlays", request,
            ProtocolJsonContext.Default.CreateOverlayRequest, ProtocolJsonContext.Default.OverlayInfo, cancellationToken).ConfigureAwait(false);
        return waitForCompletion ? await WaitForCompletionAsync(overlay.Id, cancellationToken).ConfigureAwait(false) : overlay;
    }

    /// <summary>Every overlay of the sandbox, in creation order.</summary>
    public async Task<IReadOnlyList<OverlayInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/filesystem/overlays", ProtocolJsonContext.Default.OverlayList, cancellationToken)
            .ConfigureAwait(false)).Overlays;

    /// <summary>One overlay.</summary>
    public Task<OverlayInfo> GetAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Get, "/filesystem/overlays/" + Uri.EscapeDataString(id), ProtocolJsonContext.Default.OverlayInfo, cancellationToken);

    /// <summary>Deletes the overlay and its target tree.</summary>
    public Task DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, "/filesystem/overlays/" + Uri.EscapeDataString(id), cancellationToken);

    /// <summary>
    /// Polls the overlay (500 ms, ×1.5, at most 5 s apart, like the official client) until <c>copy_status</c> is
    /// <c>complete</c>; a <c>failed</c> copy throws <see cref="SandboxdException"/> with its <c>copy_error</c>.
    /// </summary>
    public async Task<OverlayInfo> WaitForCompletionAsync(string id, CancellationToken cancellationToken = default)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            var overlay = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            switch (overlay.CopyStatus)
            {
                case "complete":
                    return overlay;
                case "failed":
                    throw new SandboxdException($"Overlay {id} copy failed: {overlay.CopyError ?? "(no reason given)"}.", null, overlay.CopyError);
                default:
                    await Task.Delay(delay, _client.Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(5000, delay.TotalMilliseconds * 1.5));
                    break;
            }
        }
    }
}
