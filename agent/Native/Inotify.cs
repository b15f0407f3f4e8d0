using System.Buffers.Binary;
using System.Text;

namespace Sandboxd.Native;

/// <summary>One raw inotify event.</summary>
internal readonly record struct InotifyEvent(int Wd, uint Mask, uint Cookie, string Name);

/// <summary>Why adding a watch failed.</summary>
internal enum WatchFailure { None, LimitReached, NotFound, Other }

/// <summary>
/// An inotify instance whose descriptor lives in the shared <see cref="EpollLoop"/>: events are parsed on the I/O
/// thread and handed to <c>onEvents</c>, which must only enqueue.
/// </summary>
internal sealed class Inotify : IFdReader, IDisposable
{
    public const uint WatchMask = LibC.IN_MODIFY | LibC.IN_CLOSE_WRITE | LibC.IN_MOVED_FROM | LibC.IN_MOVED_TO | LibC.IN_CREATE
        | LibC.IN_DELETE | LibC.IN_DELETE_SELF | LibC.IN_MOVE_SELF | LibC.IN_ONLYDIR | LibC.IN_DONT_FOLLOW | LibC.IN_EXCL_UNLINK;

    private readonly EpollLoop _loop;
    private readonly int _fd;
    private readonly ulong _key;
    private readonly Action<List<InotifyEvent>> _onEvents;
    private readonly Action _onClosed;
    private int _disposed;

    public Inotify(EpollLoop loop, Action<List<InotifyEvent>> onEvents, Action onClosed)
    {
        _loop = loop;
        _onEvents = onEvents;
        _onClosed = onClosed;
        _fd = LibC.InotifyInit1(LibC.IN_NONBLOCK | LibC.IN_CLOEXEC);
        if (_fd < 0)
        {
            var errno = LibC.LastErrno;
            throw new InvalidOperationException(errno == LibC.EMFILE
                ? "inotify instance limit reached (fs.inotify.max_user_instances)"
                : $"inotify_init1 failed (errno {errno})");
        }

        _key = loop.AddReader(_fd, this);
    }

    public int AddWatch(string directory, out WatchFailure failure)
    {
        var wd = LibC.InotifyAddWatch(_fd, directory, WatchMask);
        failure = wd >= 0 ? WatchFailure.None : LibC.LastErrno switch
        {
            LibC.ENOSPC => WatchFailure.LimitReached,
            LibC.ENOENT => WatchFailure.NotFound,
            _ => WatchFailure.Other,
        };
        return wd;
    }

    public void RemoveWatch(int wd) => _ = LibC.InotifyRmWatch(_fd, wd);

    void IFdReader.OnData(ReadOnlySpan<byte> data)
    {
        var events = new List<InotifyEvent>();
        var pos = 0;
        while (pos + 16 <= data.Length)
        {
            var wd = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
            var mask = BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 4)..]);
            var cookie = BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 8)..]);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data[(pos + 12)..]);
            var nameBytes = data.Slice(pos + 16, Math.Min(length, data.Length - pos - 16));
            var nul = nameBytes.IndexOf((byte)0);
            var name = Encoding.UTF8.GetString(nul >= 0 ? nameBytes[..nul] : nameBytes);
            events.Add(new InotifyEvent(wd, mask, cookie, name));
            pos += 16 + length;
        }

        _onEvents(events);
    }

    void IFdReader.OnClosed()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _onClosed();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _loop.Close(_key);
        }
    }
}
