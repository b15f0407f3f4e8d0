using System.Net.Sockets;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>Bare TCP connections to the agent, for connection-lifetime tests.</summary>
public static class RawConnection
{
    public static async Task<TcpClient> OpenAsync(AgentProcess agent, CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        await client.ConnectAsync(agent.BaseUrl.Host, agent.BaseUrl.Port, cancellationToken);
        return client;
    }

    /// <summary>Reads (and discards) until the agent closes the connection; true if it did within <paramref name="within"/>.</summary>
    public static async Task<bool> ClosedWithinAsync(TcpClient client, TimeSpan within, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(within);
        var buffer = new byte[4096];
        try
        {
            while (await client.GetStream().ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true; // reset by the agent
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
