using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace Sandboxd.Native;

/// <summary>
/// A NETLINK_SOCK_DIAG socket that dumps the listening TCP sockets of the agent's network namespace (the same set
/// /proc/net/tcp{,6} shows). The kernel walks only its listening hash for <c>idiag_states = 1 &lt;&lt; TCP_LISTEN</c>, where
/// /proc/net/tcp prints every socket (each TIME_WAIT of a health check too) as text to be parsed. Not thread-safe: one
/// dump at a time (the port scanner's scans never overlap). Replies are accepted only from the kernel (netlink port id 0):
/// any process of the namespace can send a datagram to an unconnected netlink socket.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe partial class SockDiag : IDisposable
{
    internal const int AF_INET = 2;
    internal const int AF_INET6 = 10;
    internal const int AF_NETLINK = 16;
    internal const int SOCK_DGRAM = 2;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int NETLINK_SOCK_DIAG = 4;
    internal const int IPPROTO_TCP = 6;
    internal const int TCP_LISTEN = 10;
    internal const ushort SOCK_DIAG_BY_FAMILY = 20;
    internal const ushort NLMSG_ERROR = 2;
    internal const ushort NLMSG_DONE = 3;
    internal const ushort NLM_F_REQUEST = 0x1;
    internal const ushort NLM_F_DUMP_INTR = 0x10;
    internal const ushort NLM_F_DUMP = 0x300;
    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVTIMEO = 20;

    internal const int EACCES = 13;
    internal const int EINVAL = 22;
    internal const int EBADMSG = 74;
    internal const int EPROTONOSUPPORT = 93;
    internal const int EOPNOTSUPP = 95;
    internal const int EAFNOSUPPORT = 97;

    /// <summary>sizeof(struct nlmsghdr), sizeof(struct inet_diag_req_v2), sizeof(struct inet_diag_msg).</summary>
    internal const int NlMsgHdrSize = 16;
    internal const int InetDiagReqV2Size = 56;
    internal const int InetDiagMsgSize = 72;
    private const int SockaddrNlSize = 12;

    /// <summary>One receive: the kernel fills a dump datagram up to the reader's buffer (at most 32 KiB per skb).</summary>
    private const int BufferSize = 32 * 1024;

    /// <summary>A reply that never comes (it always does) must not stall the scanner.</summary>
    private static readonly TimeSpan ReceiveTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How often a dump the kernel marks inconsistent (NLM_F_DUMP_INTR: the table changed meanwhile) is redone.</summary>
    private const int InterruptedRetries = 3;

    private readonly SafeFileHandle _socket;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
    private uint _sequence;

    private SockDiag(SafeFileHandle socket) => _socket = socket;

    /// <summary>Opens the socket, or returns null with the errno that refused it.</summary>
    public static SockDiag? TryOpen(out int errno)
    {
        var socket = Socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (socket.IsInvalid)
        {
            errno = LibC.LastErrno;
            socket.Dispose();
            return null;
        }

        long* timeout = stackalloc long[2]; // struct timeval { tv_sec; tv_usec; }
        timeout[0] = (long)ReceiveTimeout.TotalSeconds;
        timeout[1] = 0;
        if (SetSockOpt(socket, SOL_SOCKET, SO_RCVTIMEO, timeout, 2 * sizeof(long)) < 0)
        {
            errno = LibC.LastErrno;
            socket.Dispose();
            return null;
        }

        errno = 0;
        return new SockDiag(socket);
    }

    /// <summary>
    /// Appends the listening TCP sockets of <paramref name="family"/> (<see cref="AF_INET"/> or <see cref="AF_INET6"/>) to
    /// <paramref name="into"/>; returns 0, or the errno that failed the dump (EAGAIN: no reply within the timeout; an
    /// NLMSG_ERROR's error, e.g. ENOENT without tcp_diag). After a failure <paramref name="into"/> holds nothing of this
    /// family and the socket should be replaced (a late reply may still be queued; it would be skipped by sequence number).
    /// </summary>
    public int DumpListeners(int family, List<ListeningSocket> into)
    {
        var start = into.Count;
        for (var attempt = 0; ; attempt++)
        {
            var result = DumpOnce(family, into, out var interrupted);
            if (result != 0)
            {
                into.RemoveRange(start, into.Count - start);
                return result;
            }

            if (!interrupted || attempt >= InterruptedRetries)
            {
                return 0; // after the retries: as consistent as a read of /proc/net/tcp
            }

            into.RemoveRange(start, into.Count - start);
        }
    }

    private int DumpOnce(int family, List<ListeningSocket> into, out bool interrupted)
    {
        interrupted = false;
        var sequence = ++_sequence;
        var sent = Send(family, sequence);
        if (sent != 0)
        {
            return sent;
        }

        byte* from = stackalloc byte[SockaddrNlSize];
        while (true)
        {
            nint received;
            var fromLength = SockaddrNlSize;
            fixed (byte* buffer = _buffer)
            {
                received = RecvFrom(_socket, buffer, _buffer.Length, 0, from, &fromLength);
            }

            if (received < 0)
            {
                var errno = LibC.LastErrno;
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                return errno;
            }

            if (fromLength < SockaddrNlSize || *(ushort*)from != AF_NETLINK || *(uint*)(from + 4) != 0)
            {
                continue; // not from the kernel
            }

            var status = Parse(_buffer.AsSpan(0, (int)received), sequence, into, ref interrupted);
            if (status != Continue)
            {
                return status;
            }
        }
    }

    /// <summary><see cref="Parse"/>'s "the dump goes on in the next datagram".</summary>
    private const int Continue = -1;

    /// <summary>Reads one datagram of the reply to <paramref name="sequence"/>: 0 at NLMSG_DONE, an errno on error,
    /// <see cref="Continue"/> when more datagrams follow.</summary>
    internal static int Parse(ReadOnlySpan<byte> data, uint sequence, List<ListeningSocket> into, ref bool interrupted)
    {
        var pos = 0;
        while (data.Length - pos >= NlMsgHdrSize)
        {
            var message = data[pos..];
            var length = (int)MemoryMarshal.Read<uint>(message);
            var type = MemoryMarshal.Read<ushort>(message[4..]);
            var flags = MemoryMarshal.Read<ushort>(message[6..]);
            var messageSequence = MemoryMarshal.Read<uint>(message[8..]);
            if (length < NlMsgHdrSize || length > message.Length)
            {
                return EBADMSG;
            }

            pos += (length + 3) & ~3; // NLMSG_ALIGN
            if (messageSequence != sequence)
            {
                continue; // the rest of an earlier, abandoned dump
            }

            if ((flags & NLM_F_DUMP_INTR) != 0)
            {
                interrupted = true;
            }

            var payload = message[NlMsgHdrSize..length];
            switch (type)
            {
                case NLMSG_DONE:
                    // The payload is the dump's result (0, or a negative errno).
                    return payload.Length >= 4 && MemoryMarshal.Read<int>(payload) < 0 ? -MemoryMarshal.Read<int>(payload) : 0;
                case NLMSG_ERROR:
                    var error = payload.Length >= 4 ? -MemoryMarshal.Read<int>(payload) : EBADMSG;
                    return error > 0 ? error : EBADMSG; // an ACK (0) is never asked for
                case SOCK_DIAG_BY_FAMILY when payload.Length >= InetDiagMsgSize:
                    AddListener(payload, into);
                    break;
            }
        }

        return Continue;
    }

    /// <summary>struct inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid (sport, dport: be16; src, dst:
    /// 4 × be32; if; cookie[2]) at 4, then expires, rqueue, wqueue, uid, inode at 52..72.</summary>
    private static void AddListener(ReadOnlySpan<byte> message, List<ListeningSocket> into)
    {
        var family = message[0];
        if (message[1] != TCP_LISTEN)
        {
            return;
        }

        var port = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        var address = (int)family switch
        {
            AF_INET => ListeningSocket.MapV4(BinaryPrimitives.ReadUInt32BigEndian(message[8..])),
            AF_INET6 => BinaryPrimitives.ReadUInt128BigEndian(message[8..]),
            _ => (UInt128?)null,
        };
        if (address is { } known)
        {
            into.Add(new ListeningSocket(port, known, MemoryMarshal.Read<uint>(message[68..])));
        }
    }

    /// <summary>nlmsghdr + inet_diag_req_v2 { family, IPPROTO_TCP, ext 0, pad, states = 1 &lt;&lt; TCP_LISTEN, id = 0 }.</summary>
    private int Send(int family, uint sequence)
    {
        const int length = NlMsgHdrSize + InetDiagReqV2Size;
        var request = stackalloc byte[length];
        new Span<byte>(request, length).Clear();
        *(uint*)request = length;
        *(ushort*)(request + 4) = SOCK_DIAG_BY_FAMILY;
        *(ushort*)(request + 6) = NLM_F_REQUEST | NLM_F_DUMP;
        *(uint*)(request + 8) = sequence;
        request[NlMsgHdrSize] = (byte)family;
        request[NlMsgHdrSize + 1] = IPPROTO_TCP;
        *(uint*)(request + NlMsgHdrSize + 4) = 1u << TCP_LISTEN;

        var kernel = stackalloc byte[SockaddrNlSize]; // struct sockaddr_nl { AF_NETLINK, pad, pid 0, groups 0 }
        new Span<byte>(kernel, SockaddrNlSize).Clear();
        *(ushort*)kernel = AF_NETLINK;
        while (true)
        {
            var sent = SendTo(_socket, request, length, 0, kernel, SockaddrNlSize);
            if (sent == length)
            {
                return 0;
            }

            var errno = sent < 0 ? LibC.LastErrno : EBADMSG;
            if (errno != LibC.EINTR)
            {
                return errno;
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial SafeFileHandle Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(SafeFileHandle socket, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint SendTo(SafeFileHandle socket, byte* buffer, nint length, int flags, byte* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    private static partial nint RecvFrom(SafeFileHandle socket, byte* buffer, nint length, int flags, byte* address, int* addressLength);
}
