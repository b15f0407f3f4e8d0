using System.Buffers.Binary;
using System.Text;

namespace Sandboxd.Native;

/// <summary>
/// The agent's one inotify instance, shared by every watcher. <c>fs.inotify.max_user_instances</c> (often 128 for the
/// whole user) would otherwise cap the agent at that many watchers, and every instance costs its own queue and kernel
/// watches. Each watcher opens an <see cref="Inotify"/> handle here. The kernel gives one instance one wd per inode, so
/// two watchers of overlapping trees share wds: the hub counts the handles holding each wd and calls
/// <c>inotify_rm_watch</c> only when the last one lets go. Events are parsed once on the I/O thread and handed to the
/// handles that hold the event's wd; <c>IN_Q_OVERFLOW</c> goes to every handle (each rescans), <c>IN_IGNORED</c> to
/// the holders of that wd, after which the wd is forgotten. The descriptor is created on the first <see cref="Open"/>
/// and lives until the agent stops (or the kernel closes it, when every handle is told and the next open starts a new
/// instance).
/// </summary>
/// <remarks>
/// Every watch is added with the same <see cref="Inotify.WatchMask"/>, so adding an inode a second time (for another
/// watcher) leaves its mask as it was; were masks ever to differ per watcher, adds would need <c>IN_MASK_ADD</c>.
/// Lock order: the epoll loop's lock, then <see cref="_gate"/> (the I/O thread dispatches under both); the hub never
/// calls into the loop while holding <see cref="_gate"/>.
/// </remarks>
internal sealed class InotifyHub(EpollLoop loop) : IDisposable
{
    private readonly Lock _gate = new();
    /// <summary>Serialises creating the instance (a syscall and a loop registration, never under <see cref="_gate"/>).</summary>
    private readonly Lock _create = new();
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private Instance? _instance;
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private bool _disposed;

    /// <summary>A handle for one watcher; <paramref name="onEvents"/> runs on the I/O thread and must only enqueue.</summary>
    /// <exception cref="InvalidOperationException">No inotify instance could be created (the instance limit, usually).</exception>
    public Inotify Open(Action<List<InotifyEvent>> onEvents, Action onClosed)
    {
        lock (_create)
        {
            var instance = CurrentOrNew();
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var handle = new Inotify(this, instance, onEvents, onClosed);
                instance.Handles.Add(handle);
                return handle;
            }
        }
    }

    /// <summary>The number of wds the instance holds (what <c>/proc/PID/fdinfo</c> lists), for diagnostics.</summary>
    public int WatchCount
    {
        get
        {
            lock (_gate)
            {
                return _instance?.Holders.Count ?? 0;
            }
        }
    }

    private Instance CurrentOrNew()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_instance is { Closed: false } current)
            {
                return current;
            }
        }

        var fd = LibC.InotifyInit1(LibC.IN_NONBLOCK | LibC.IN_CLOEXEC);
        if (fd < 0)
        {
            var errno = LibC.LastErrno;
            throw new InvalidOperationException(errno == LibC.EMFILE
                ? "inotify instance limit reached (fs.inotify.max_user_instances)"
                : $"inotify_init1 failed (errno {errno})");
        }

        var instance = new Instance(this, fd);
        instance.Key = loop.AddReader(fd, instance); // the loop owns the descriptor from here on
        lock (_gate)
        {
            _instance = instance;
        }

        return instance;
    }

    internal int AddWatch(Inotify handle, string directory, out WatchFailure failure)
    {
        lock (_gate)
        {
            var instance = handle.Instance;
            if (handle.Disposed || instance.Closed)
            {
                failure = WatchFailure.Other;
                return -1;
            }

            var wd = LibC.InotifyAddWatch(instance.Fd, directory, Inotify.WatchMask);
            if (wd < 0)
            {
                failure = LibC.LastErrno switch
                {
                    LibC.ENOSPC => WatchFailure.LimitReached,
                    LibC.ENOENT => WatchFailure.NotFound,
                    _ => WatchFailure.Other,
                };
                return wd;
            }

            failure = WatchFailure.None;
            if (handle.Wds.Add(wd))
            {
                if (!instance.Holders.TryGetValue(wd, out var holders))
                {
                    instance.Holders[wd] = holders = [];
                }

                holders.Add(handle);
            }

            return wd;
        }
    }

    internal void RemoveWatch(Inotify handle, int wd)
    {
        lock (_gate)
        {
            if (handle.Wds.Remove(wd))
            {
                ReleaseUnsynchronized(handle, wd);
            }
        }
    }

    /// <summary>Releases exactly the handle's wds (the kernel watch goes with the last holder) and stops its callbacks.</summary>
    internal void Close(Inotify handle)
    {
        lock (_gate)
        {
            if (handle.Disposed)
            {
                return;
            }

            handle.Disposed = true;
            foreach (var wd in handle.Wds)
            {
                ReleaseUnsynchronized(handle, wd);
            }

            handle.Wds.Clear();
            handle.Instance.Handles.Remove(handle);
        }
    }

    private static void ReleaseUnsynchronized(Inotify handle, int wd)
    {
        var instance = handle.Instance;
        if (!instance.Holders.TryGetValue(wd, out var holders))
        {
            return;
        }

        holders.Remove(handle);
        if (holders.Count == 0)
        {
            instance.Holders.Remove(wd);
            if (!instance.Closed)
            {
                // The kernel answers with IN_IGNORED for this wd, which finds no holder and is dropped (wds are
                // allocated cyclically, so the number is not handed out again meanwhile).
                _ = LibC.InotifyRmWatch(instance.Fd, wd);
            }
        }
    }

    /// <summary>On the I/O thread: one parse, then each handle gets the events of the wds it holds, in order.</summary>
    private void Dispatch(Instance instance, ReadOnlySpan<byte> data)
    {
        var events = Parse(data);
        lock (_gate)
        {
            if (instance.Closed)
            {
                return;
            }

            var byHandle = new Dictionary<Inotify, List<InotifyEvent>>();
            foreach (var e in events)
            {
                if ((e.Mask & LibC.IN_Q_OVERFLOW) != 0)
                {
                    foreach (var handle in instance.Handles)
                    {
                        Append(byHandle, handle, e);
                    }

                    continue;
                }

                if (!instance.Holders.TryGetValue(e.Wd, out var holders))
                {
                    continue; // a wd released meanwhile
                }

                foreach (var handle in holders)
                {
                    Append(byHandle, handle, e);
                }

                if ((e.Mask & LibC.IN_IGNORED) != 0)
                {
                    // The kernel dropped the watch (directory deleted, filesystem unmounted): nobody holds it any more.
                    instance.Holders.Remove(e.Wd);
                    foreach (var handle in holders)
                    {
                        handle.Wds.Remove(e.Wd);
                    }
                }
            }

            // Under the lock, so a handle's callback never runs after its Dispose returned; callbacks only enqueue.
            foreach (var (handle, list) in byHandle)
            {
                handle.OnEvents(list);
            }
        }
    }

    private static void Append(Dictionary<Inotify, List<InotifyEvent>> byHandle, Inotify handle, InotifyEvent e)
    {
        if (!byHandle.TryGetValue(handle, out var list))
        {
            byHandle[handle] = list = [];
        }

        list.Add(e);
    }

    private static List<InotifyEvent> Parse(ReadOnlySpan<byte> data)
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

        return events;
    }

    /// <summary>The descriptor ended without our asking (never seen in practice): every handle is told, and the next open starts afresh.</summary>
    private void OnInstanceClosed(Instance instance)
    {
        lock (_gate)
        {
            if (instance.Closed)
            {
                return;
            }

            instance.Closed = true;
            instance.Holders.Clear();
            foreach (var handle in instance.Handles)
            {
                handle.Wds.Clear();
                if (!handle.Disposed)
                {
                    handle.OnClosed();
                }
            }

            instance.Handles.Clear();
        }
    }

    public void Dispose()
    {
        Instance? instance;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            instance = _instance;
            _instance = null;
            if (instance is not null)
            {
                instance.Closed = true; // an agent that stops tells no watcher
            }
        }

        if (instance is not null)
        {
            loop.Close(instance.Key); // outside _gate: the loop's lock comes first
        }
    }

    /// <summary>One inotify descriptor and who holds what on it. Guarded by the hub's <see cref="_gate"/>.</summary>
    internal sealed class Instance(InotifyHub hub, int fd) : IFdReader
    {
        public int Fd { get; } = fd;
        public ulong Key { get; set; }
        public bool Closed { get; set; }
        /// <summary>wd → the handles holding it (a handle holds a wd once, however often it added it).</summary>
        public Dictionary<int, HashSet<Inotify>> Holders { get; } = [];
        public HashSet<Inotify> Handles { get; } = [];

        void IFdReader.OnData(ReadOnlySpan<byte> data) => hub.Dispatch(this, data);

        void IFdReader.OnClosed() => hub.OnInstanceClosed(this);
    }
}
