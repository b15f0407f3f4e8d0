using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>
/// A hand-made upstream on a raw TCP socket for preview tests: records the request head of every connection exactly as
/// it arrived (the request line byte for byte) and answers each with one fixed reply, then closes it.
/// </summary>
public sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<string> _heads = Channel.CreateUnbounded<string>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private RecordingUpstream(string reply)
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptLoopAsync(Encoding.ASCII.GetBytes(reply));
    }

    public int Port { get; }

    /// <summary>Heads received so far.</summary>
    public int Received => _heads.Reader.Count;

    /// <summary>Starts an upstream that answers every request with <paramref name="reply"/> (a complete HTTP answer).</summary>
    public static RecordingUpstream Start(string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok") => new(reply);

    /// <summary>The next request head (up to the blank line), waiting at most <paramref name="timeout"/>.</summary>
    public async Task<string> NextHeadAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _heads.Reader.ReadAsync(cancellationToken).AsTask().WaitAsync(timeout, cancellationToken);

    private async Task AcceptLoopAsync(byte[] reply)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = ServeAsync(client, reply);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private async Task ServeAsync(TcpClient client, byte[] reply)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var bytes = new List<byte>();
                var one = new byte[1];
                while (!(bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n')
                    && await stream.ReadAsync(one, _stop.Token) == 1)
                {
                    bytes.Add(one[0]);
                }

                _heads.Writer.TryWrite(Encoding.Latin1.GetString([.. bytes]));
                await stream.WriteAsync(reply, _stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
            {
                // the proxy went away
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
