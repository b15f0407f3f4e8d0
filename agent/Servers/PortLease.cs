using System.Globalization;
using Sandboxd.Native;

namespace Sandboxd.Servers;

/// <summary>
/// A host-wide claim on a preallocated port between the agents of one user on one machine (docs/adr/0020-port-leases.md).
/// "Is it free?" (a bind that is closed at once) cannot keep two agents from choosing the same port in the same moment:
/// both see it free, both hand it to a server, and one of the servers fails to listen. So a port is handed out only by
/// the agent holding an exclusive lock on <c>/tmp/sandboxd-ports-UID/PORT</c> (an open-file-description lock: dropped
/// by the kernel when the agent closes the descriptor or dies), held for as long as the server's run on that port lasts.
/// Best effort: where the directory cannot be used (not ours, a symlink, no /tmp), ports are handed out as before.
/// </summary>
internal sealed class PortLease : IDisposable
{
    private int _fd;

    private PortLease(int fd) => _fd = fd;

    /// <summary>The directory of this user's leases; null when it cannot be used safely (checked once).</summary>
    internal static string? Directory { get; } = PrepareDirectory();

    /// <summary>
    /// Takes the lease on <paramref name="port"/>: false when another agent holds it; true otherwise, with
    /// <paramref name="lease"/> null when leases cannot be taken here (the port is then the caller's as before).
    /// </summary>
    public static bool TryTake(int port, out PortLease? lease)
    {
        lease = null;
        if (Directory is not { } directory)
        {
            return true;
        }

        var path = Path.Combine(directory, port.ToString(CultureInfo.InvariantCulture));
        // O_NOFOLLOW: the directory is ours and 0700, so nothing else can plant a link in it; checked anyway.
        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CREAT | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0b110_000_000);
        if (fd < 0)
        {
            return true;
        }

        var errno = LibC.TryLockExclusive(fd);
        if (errno == 0)
        {
            lease = new PortLease(fd);
            return true;
        }

        LibC.Close(fd);
        return !(errno is LibC.EAGAIN or LibC.EACCES);
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.Close(fd);
        }
    }

    private static string? PrepareDirectory()
    {
        if (Environment.GetEnvironmentVariable("SANDBOXD_PORT_LEASES") is "off")
        {
            return null;
        }

        var uid = LibC.GetEuid();
        var directory = $"/tmp/sandboxd-ports-{uid.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            if (!System.IO.Directory.Exists(directory))
            {
                System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            // Only a real directory of this user that nobody else may write: another user could otherwise take our
            // ports' leases or plant links; then leases are not used at all.
            var info = new DirectoryInfo(directory);
            return info.LinkTarget is null && LibC.OwnerOf(directory) == uid
                && (info.UnixFileMode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0 ? directory : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
