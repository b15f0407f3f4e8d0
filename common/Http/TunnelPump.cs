using System.Net.Sockets;

namespace Sandboxd.Http;

/// <summary>
/// The byte pump of a tunnelled WebSocket after the upstream's 101, shared by the agent's preview proxy and the gateway's
/// one-origin proxy: both ways at once, a half-close upstream when the client ends, and when one side closes the other
/// gets 5 s to finish its close handshake before both are cut.
/// </summary>
public static class TunnelPump
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    /// <param name="downstream">The client's upgraded connection.</param>
    /// <param name="upstream">The stream over <paramref name="socket"/>, connected to the upstream.</param>
    /// <param name="socket">The upstream socket (its send side is shut down when the client ends).</param>
    /// <param name="early">Bytes the upstream sent with its 101 (frames read past the head), written first.</param>
    /// <param name="cancellationToken">Ends the tunnel at once.</param>
    public static async Task RunAsync(Stream downstream, Stream upstream, Socket socket, ReadOnlyMemory<byte> early, CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (early.Length > 0)
        {
            await downstream.WriteAsync(early, cancellationToken).ConfigureAwait(false);
        }

        var up = CopyAsync(downstream, upstream, () => socket.Shutdown(SocketShutdown.Send), both.Token);
        var down = CopyAsync(upstream, downstream, null, both.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).WaitAsync(CloseGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await both.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
    }

    /// <summary>Copies until the source ends (then runs <paramref name="ended"/>: a half-close) or either side fails.</summary>
    private static async Task CopyAsync(Stream from, Stream to, Action? ended, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await to.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            ended?.Invoke();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // one side went away: the tunnel ends
        }
    }
}
