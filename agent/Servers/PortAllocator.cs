using System.Net;
using System.Net.Sockets;

namespace Sandboxd.Servers;

/// <summary>Finds a free TCP port to preallocate as a server's <c>PORT</c>.</summary>
internal static class PortAllocator
{
    public const int DefaultFirstPort = 3000;

    public static bool IsFree(int port)
    {
        foreach (var address in new[] { IPAddress.Any, IPAddress.IPv6Any })
        {
            try
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (address.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    socket.DualMode = false;
                }

                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return false;
            }
            catch (SocketException) when (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                // no IPv6 here: the IPv4 check decides
            }
        }

        return true;
    }

    /// <summary>The requested port, or (unless strict) the next free one above it, or the first free one ≥ 3000.</summary>
    public static int? Allocate(int? requested, bool strict, ISet<int> reserved)
    {
        if (requested is { } port)
        {
            if (!reserved.Contains(port) && IsFree(port))
            {
                return port;
            }

            if (strict)
            {
                return null;
            }
        }

        for (var candidate = (requested ?? DefaultFirstPort - 1) + 1; candidate <= 65535; candidate++)
        {
            if (!reserved.Contains(candidate) && IsFree(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
