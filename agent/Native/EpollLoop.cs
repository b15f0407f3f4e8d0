using System.Runtime.Versioning;

namespace Sandboxd.Native;

/// <summary>Receives bytes read from a descriptor on the I/O thread. Implementations must be quick and never block.</summary>
internal interface IFdReader
{
    void OnData(ReadOnlySpan<byte> data);

    /// <summary>End of stream (EOF, EIO on a PTY master, or the descriptor was removed).</summary>
    void OnClosed();
}

/// <summary>
/// One thread, one epoll set: every child's pipes, PTY masters and pidfds are watched here, so a thousand idle
/// terminals cost a thousand descriptors, not a thousand blocked threads. Level-triggered; descriptors are
/// non-blocking; handlers run on this thread and only append to buffers or complete tasks.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class EpollLoop : IDisposable
{
    private const int ReadBufferSize = 64 * 1024;
    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>. Key = fd.</remarks>
    private readonly Dictionary<int, Entry> _entries = [];
    private uint _generation;
    private volatile bool _stopping;
    private readonly byte[] _buffer = new byte[ReadBufferSize];

    private abstract class Entry(int fd, uint generation)
    {
        public int Fd { get; } = fd;
        public uint Generation { get; } = generation;
    }

    private sealed class ReaderEntry(int fd, uint generation, IFdReader reader) : Entry(fd, generation)
    {
        public IFdReader Reader { get; } = reader;
    }

    private sealed class PidEntry(int fd, uint generation, int pid, Action<int> onExit) : Entry(fd, generation)
    {
        public int Pid { get; } = pid;
        public Action<int> OnExit { get; } = onExit;
    }

    public EpollLoop()
    {
        _epfd = LibC.ThrowIfFailed(LibC.EpollCreate1(LibC.EPOLL_CLOEXEC), "epoll_create1");
        _wakeFd = LibC.ThrowIfFailed(LibC.EventFd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK), "eventfd");
        var ev = new LibC.EpollEvent { Events = LibC.EPOLLIN, Data = ulong.MaxValue };
        LibC.ThrowIfFailed(LibC.EpollCtl(_epfd, LibC.EPOLL_CTL_ADD, _wakeFd, &ev), "epoll_ctl");
        _thread = new Thread(Run) { IsBackground = true, Name = "sandboxd-io" };
        _thread.Start();
    }

    /// <summary>Watches <paramref name="fd"/> (already non-blocking) and owns it from now on.</summary>
    /// <returns>A key for <see cref="DrainAndClose"/> and <see cref="Close"/>; stale keys are ignored, so a
    /// descriptor number reused after EOF is never closed by mistake.</returns>
    public ulong AddReader(int fd, IFdReader reader)
    {
        lock (_gate)
        {
            var entry = new ReaderEntry(fd, ++_generation, reader);
            AddUnsynchronized(entry, LibC.EPOLLIN);
            return Key(entry);
        }
    }

    private static ulong Key(Entry entry) => ((ulong)entry.Generation << 32) | (uint)entry.Fd;

    private bool TryGetUnsynchronized(ulong key, out Entry entry) =>
        _entries.TryGetValue((int)(uint)key, out entry!) && entry.Generation == (uint)(key >> 32);

    /// <summary>Watches a pidfd; <paramref name="onExit"/> gets the raw wait status after the child is reaped.</summary>
    public void AddPidfd(int pidfd, int pid, Action<int> onExit)
    {
        lock (_gate)
        {
            AddUnsynchronized(new PidEntry(pidfd, ++_generation, pid, onExit), LibC.EPOLLIN);
        }
    }

    private void AddUnsynchronized(Entry entry, uint events)
    {
        _entries[entry.Fd] = entry;
        var ev = new LibC.EpollEvent { Events = events, Data = Key(entry) };
        if (LibC.EpollCtl(_epfd, LibC.EPOLL_CTL_ADD, entry.Fd, &ev) < 0)
        {
            _entries.Remove(entry.Fd);
            throw LibC.Error("epoll_ctl(ADD)");
        }
    }

    /// <summary>Reads everything currently buffered in the descriptor registered under <paramref name="key"/> into its reader, then stops watching and closes it.</summary>
    public void DrainAndClose(ulong key)
    {
        lock (_gate)
        {
            if (TryGetUnsynchronized(key, out var entry) && entry is ReaderEntry reader)
            {
                var open = ReadAvailableUnsynchronized(reader);
                if (open)
                {
                    RemoveUnsynchronized(reader);
                    reader.Reader.OnClosed();
                }
            }
        }
    }

    /// <summary>Stops watching and closes the descriptor registered under <paramref name="key"/> without reading further.</summary>
    public void Close(ulong key)
    {
        lock (_gate)
        {
            if (TryGetUnsynchronized(key, out var entry))
            {
                RemoveUnsynchronized(entry);
                (entry as ReaderEntry)?.Reader.OnClosed();
            }
        }
    }

    private void RemoveUnsynchronized(Entry entry)
    {
        _entries.Remove(entry.Fd);
        LibC.EpollCtl(_epfd, LibC.EPOLL_CTL_DEL, entry.Fd, null);
        LibC.Close(entry.Fd);
    }

    private void Run()
    {
        const int MaxEvents = 256;
        var events = stackalloc LibC.EpollEvent[MaxEvents];
        while (!_stopping)
        {
            var n = LibC.EpollWait(_epfd, events, MaxEvents, -1);
            if (n < 0)
            {
                if (LibC.LastErrno == LibC.EINTR)
                {
                    continue;
                }

                throw LibC.Error("epoll_wait");
            }

            for (var i = 0; i < n; i++)
            {
                var data = events[i].Data;
                if (data == ulong.MaxValue)
                {
                    ulong drain;
                    LibC.Read(_wakeFd, (byte*)&drain, sizeof(ulong));
                    continue;
                }

                Dispatch(data);
            }
        }
    }

    private void Dispatch(ulong key)
    {
        lock (_gate)
        {
            if (!TryGetUnsynchronized(key, out var entry))
            {
                return; // stale event for a descriptor that was closed (and maybe reused) meanwhile
            }

            switch (entry)
            {
                case ReaderEntry reader:
                    if (!ReadAvailableUnsynchronized(reader))
                    {
                        // closed inside ReadAvailableUnsynchronized
                    }

                    break;
                case PidEntry pid:
                    int status;
                    var r = LibC.WaitPid(pid.Pid, &status, LibC.WNOHANG);
                    if (r == 0)
                    {
                        return; // spurious
                    }

                    RemoveUnsynchronized(pid);
                    pid.OnExit(r == pid.Pid ? status : -1);
                    break;
            }
        }
    }

    /// <returns>false when the descriptor reached its end and was removed.</returns>
    private bool ReadAvailableUnsynchronized(ReaderEntry reader)
    {
        fixed (byte* buffer = _buffer)
        {
            while (true)
            {
                var n = LibC.Read(reader.Fd, buffer, ReadBufferSize);
                if (n > 0)
                {
                    reader.Reader.OnData(new ReadOnlySpan<byte>(buffer, (int)n));
                    if (n < ReadBufferSize)
                    {
                        return true; // most likely drained; level-triggered epoll calls again if not
                    }

                    continue;
                }

                if (n < 0)
                {
                    var errno = LibC.LastErrno;
                    if (errno == LibC.EAGAIN)
                    {
                        return true;
                    }

                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }
                }

                // 0 = EOF; EIO = PTY slave closed; anything else = unusable descriptor.
                RemoveUnsynchronized(reader);
                reader.Reader.OnClosed();
                return false;
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        ulong one = 1;
        LibC.Write(_wakeFd, (byte*)&one, sizeof(ulong));
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
