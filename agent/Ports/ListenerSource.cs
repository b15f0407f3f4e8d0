using System.Runtime.InteropServices;
using Sandboxd.Native;

namespace Sandboxd.Ports;

/// <summary>
/// Where the scanner's listening sockets come from: a NETLINK_SOCK_DIAG dump (the kernel walks only its listening
/// table), or /proc/net/tcp{,6} where netlink is refused (seccomp, gVisor, no tcp_diag: said once in the log, then /proc
/// for good). A transient netlink failure (no reply in time, no buffer) reads /proc for that scan only and opens a fresh
/// socket for the next. Not thread-safe: the scanner's scans never overlap.
/// </summary>
internal sealed class ListenerSource(ILogger logger, bool netlink = true) : IDisposable
{
    private readonly ProcNetTcp _proc = new();
    private SockDiag? _diag;
    private bool _refused = !netlink;
    private bool _disposed;

    /// <summary>Netlink has not been refused (the next scan tries it).</summary>
    public bool UsesNetlink => !_refused;

    /// <summary>Appends every listening TCP socket (v4 and v6) to <paramref name="into"/>.</summary>
    public void Read(List<ListeningSocket> into)
    {
        if (_disposed)
        {
            return;
        }

        if (!_refused)
        {
            var errno = ReadNetlink(into);
            if (errno == 0)
            {
                return;
            }

            if (IsRefusal(errno))
            {
                _refused = true;
                logger.NetlinkRefused(errno, Marshal.GetPInvokeErrorMessage(errno));
            }
            else
            {
                logger.NetlinkFailed(errno, Marshal.GetPInvokeErrorMessage(errno));
            }
        }

        _proc.Read(into);
    }

    /// <summary>Appends the listeners from netlink: 0, or the errno that failed (then nothing was added and the socket
    /// is closed, so the next call opens a new one).</summary>
    internal int ReadNetlink(List<ListeningSocket> into)
    {
        if (_diag is null)
        {
            _diag = SockDiag.TryOpen(out var openErrno);
            if (_diag is null)
            {
                return openErrno;
            }
        }

        var start = into.Count;
        var errno = _diag.DumpListeners(SockDiag.AF_INET, into);
        if (errno == 0)
        {
            errno = _diag.DumpListeners(SockDiag.AF_INET6, into);
        }

        if (errno != 0)
        {
            into.RemoveRange(start, into.Count - start);
            _diag.Dispose();
            _diag = null;
        }

        return errno;
    }

    /// <summary>Appends the listeners from /proc/net/tcp{,6}.</summary>
    internal void ReadProc(List<ListeningSocket> into) => _proc.Read(into);

    /// <summary>Errors that will not go away: no netlink, no sock_diag, no tcp_diag, or a policy that forbids it.</summary>
    private static bool IsRefusal(int errno) => errno is LibC.EPERM or SockDiag.EACCES or SockDiag.EAFNOSUPPORT
        or SockDiag.EPROTONOSUPPORT or SockDiag.EOPNOTSUPP or SockDiag.EINVAL or LibC.ENOENT;

    public void Dispose()
    {
        _disposed = true;
        _diag?.Dispose();
        _diag = null;
    }
}
