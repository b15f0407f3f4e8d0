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

    /// <summary>
    /// The requested port, or (unless strict) the next free one above it, or the first free one ≥ 3000 — free here and
    /// not leased by another agent of this user (<see cref="PortLease"/>). The lease comes back with it (null where leases
    /// cannot be taken): the caller holds it for as long as the port is its server's.
    /// </summary>
    public static int? Allocate(int? requested, bool strict, ISet<int> reserved, out PortLease? lease)
    {
        if (requested is { } port)
        {
            if (!reserved.Contains(port) && TryClaim(port, out lease))
            {
                return port;
            }

            if (strict)
            {
                lease = null;
                return null;
            }
        }

        for (var candidate = (requested ?? DefaultFirstPort - 1) + 1; candidate <= 65535; candidate++)
        {
            if (!reserved.Contains(candidate) && TryClaim(candidate, out lease))
            {
                return candidate;
            }
        }

        lease = null;
        return null;
    }

    /// <summary>The lease first (so two agents never both find the port free and both take it), then the bind check.</summary>
    private static bool TryClaim(int port, out PortLease? lease)
    {
        if (!PortLease.TryTake(port, out lease))
        {
            return false;
        }

        if (IsFree(port))
        {
            return true;
        }

        lease?.Dispose();
        lease = null;
        return false;
    }
}
