using System.Buffers.Binary;
using System.Net;
using Sandboxd.Native;

namespace Sandboxd.Ports;

/// <summary>A listening TCP socket: port, bind address, socket inode and the pid that owns it (if found).</summary>
internal sealed record ListeningPort(int Port, string Address, long Inode, int? Pid)
{
    /// <summary>Bound to loopback only (reachable from inside the sandbox, not from outside).</summary>
    public bool LoopbackOnly => Address is "127.0.0.1" or "::1" || Address.StartsWith("127.", StringComparison.Ordinal);
}

/// <summary>A port that started or stopped listening.</summary>
internal sealed record PortChange(ListeningPort Port, bool Opened);

/// <summary>
/// The one port scanner of the agent: polls the listening TCP sockets (v4 and v6: netlink sock_diag, or /proc/net/tcp{,6}
/// where that is refused, <see cref="ListenerSource"/>) while anyone needs it (signals active, servers running), maps new
/// sockets to their owning pid through /proc/&lt;pid&gt;/fd, and tells subscribers about opens and closes. Sockets of the
/// agent itself are never reported. Several sockets on one port and address (SO_REUSEPORT) are one listener: the one
/// with the lowest inode, so the choice is the same whatever order the kernel lists them in.
/// </summary>
internal sealed partial class PortScanner : BackgroundService
{
    private readonly ILogger<PortScanner> _logger;
    private readonly ListenerSource _source;

    public PortScanner(ILogger<PortScanner> logger)
        : this(logger, netlink: true)
    {
    }

    /// <summary>For tests: <paramref name="netlink"/> false reads /proc/net/tcp only, as where netlink is refused.</summary>
    internal PortScanner(ILogger<PortScanner> logger, bool netlink)
    {
        _logger = logger;
        _source = new ListenerSource(logger, netlink);
    }

    /// <summary>The source of this scanner's listeners (tests compare its two paths).</summary>
    internal ListenerSource Source => _source;

    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>The interval while someone waits for a port to open (<see cref="Hurry"/>): a server that just started.</summary>
    public static readonly TimeSpan FastInterval = TimeSpan.FromMilliseconds(20);
    private readonly Lock _gate = new();
    private int _hurried;
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly List<Action<PortChange>> _subscribers = [];
    private Dictionary<(int Port, UInt128 Address), ListeningPort> _current = [];
    /// <summary>Socket inodes of the agent's own listeners: never reported, and never looked up again.</summary>
    private HashSet<long> _own = [];
    private int _users;
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>Listening sockets seen by the last scan.</summary>
    public IReadOnlyCollection<ListeningPort> Current
    {
        get
        {
            lock (_gate)
            {
                return [.. _current.Values];
            }
        }
    }

    /// <summary>Calls <paramref name="onChange"/> for every later open/close. Listeners that exist already are the
    /// baseline (see <see cref="Current"/>), not news.</summary>
    public IDisposable Subscribe(Action<PortChange> onChange)
    {
        bool wasIdle;
        lock (_gate)
        {
            wasIdle = _users == 0;
            _users++;
        }

        if (wasIdle)
        {
            Scan(); // fresh baseline before this subscriber can be notified
        }

        lock (_gate)
        {
            _subscribers.Add(onChange);
        }

        _wake.Release();
        return new Subscription(this, onChange);
    }

    private sealed class Subscription(PortScanner scanner, Action<PortChange> onChange) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (scanner._gate)
                {
                    scanner._subscribers.Remove(onChange);
                    scanner._users--;
                }
            }
        }
    }

    /// <summary>
    /// Scans every <see cref="FastInterval"/> until the returned handle is disposed: for a server waiting for its port,
    /// so readiness is seen within tens of milliseconds. A scan without new sockets only asks the kernel for its listeners.
    /// </summary>
    public IDisposable Hurry()
    {
        Interlocked.Increment(ref _hurried);
        _wake.Release();
        return new HurryHandle(this);
    }

    private sealed class HurryHandle(PortScanner scanner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref scanner._hurried);
            }
        }
    }

    /// <summary>Scans right now (e.g. just after a spawn) instead of waiting for the next tick.</summary>
    public void ScanSoon() => _wake.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                bool active;
                lock (_gate)
                {
                    active = _users > 0;
                }

                if (!active)
                {
                    await _wake.WaitAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }

                Scan();
                await _wake.WaitAsync(Volatile.Read(ref _hurried) > 0 ? FastInterval : Interval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutdown
        }
    }

    private readonly Lock _scanGate = new();

    /// <summary>One scan: diff against the previous one and notify. Scans never overlap.</summary>
    public void Scan()
    {
        lock (_scanGate)
        {
            ScanUnsynchronized();
        }
    }

    /// <remarks>Only used under <see cref="_scanGate"/>: reused by every scan.</remarks>
    private readonly List<ListeningSocket> _sockets = [];
    /// <remarks>Only used under <see cref="_scanGate"/>: (port, address) → lowest inode, reused by every scan.</remarks>
    private readonly Dictionary<(int Port, UInt128 Address), long> _found = [];

    /// <summary>Fills <see cref="_found"/>: every listener, the lowest inode for a shared port and address.</summary>
    private void ReadListeners()
    {
        _sockets.Clear();
        _source.Read(_sockets);
        _found.Clear();
        foreach (var socket in _sockets)
        {
            var key = (socket.Port, socket.Address);
            if (!_found.TryGetValue(key, out var inode) || socket.Inode < inode)
            {
                _found[key] = socket.Inode;
            }
        }
    }

    private void ScanUnsynchronized()
    {
        ReadListeners();
        Dictionary<(int, UInt128), ListeningPort> previous;
        lock (_gate)
        {
            previous = _current;
        }

        if (Unchanged(previous))
        {
            return; // the common case: nothing allocated
        }

        var next = new Dictionary<(int Port, UInt128 Address), ListeningPort>();
        var own = new HashSet<long>();
        var fresh = FreshInodes(previous, own);
        var owners = fresh.Count > 0 ? MapInodesToPids(fresh) : [];
        var changes = new List<PortChange>();
        foreach (var (key, inode) in _found)
        {
            if (own.Contains(inode))
            {
                continue;
            }

            if (previous.TryGetValue(key, out var known) && known.Inode == inode)
            {
                next[key] = known;
                continue;
            }

            var pid = owners.TryGetValue(inode, out var p) ? p : (int?)null;
            if (pid == ProcessTable.SelfPid)
            {
                own.Add(inode); // the agent's own listener
                continue;
            }

            var port = new ListeningPort(key.Port, FormatAddress(key.Address), inode, pid);
            next[key] = port;
            changes.Add(new PortChange(port, Opened: true));
        }

        foreach (var (key, port) in previous)
        {
            if (!next.ContainsKey(key))
            {
                changes.Add(new PortChange(port, Opened: false));
            }
        }

        Action<PortChange>[] subscribers;
        _own = own;
        lock (_gate)
        {
            _current = next;
            subscribers = [.. _subscribers];
        }

        Notify(changes, subscribers);
    }

    private void Notify(List<PortChange> changes, Action<PortChange>[] subscribers)
    {
        foreach (var change in changes)
        {
            _logger.PortChanged(change.Port.Port, change.Port.Address, change.Opened ? "open" : "close", change.Port.Pid ?? 0);
            foreach (var subscriber in subscribers)
            {
                try
                {
                    subscriber(change);
                }
                catch (Exception e)
                {
                    // A subscriber's bug must not end the scanner: an exception out of this background service would
                    // stop the whole agent.
                    _logger.SubscriberFailed(e, change.Port.Port);
                }
            }
        }
    }

    /// <summary>Inodes found that are neither known listeners nor the agent's (those go to <paramref name="own"/>).</summary>
    private HashSet<long> FreshInodes(Dictionary<(int, UInt128), ListeningPort> previous, HashSet<long> own)
    {
        var fresh = new HashSet<long>();
        foreach (var (key, inode) in _found)
        {
            if (_own.Contains(inode))
            {
                own.Add(inode);
            }
            else if (!(previous.TryGetValue(key, out var known) && known.Inode == inode))
            {
                fresh.Add(inode);
            }
        }

        return fresh;
    }

    /// <summary>Every socket found is a known listener (same inode) or one of the agent's own, and none is missing.</summary>
    private bool Unchanged(Dictionary<(int, UInt128), ListeningPort> previous)
    {
        int known = 0, own = 0;
        foreach (var (key, inode) in _found)
        {
            if (_own.Contains(inode))
            {
                own++;
            }
            else if (previous.TryGetValue(key, out var port) && port.Inode == inode)
            {
                known++;
            }
            else
            {
                return false;
            }
        }

        return known == previous.Count && own == _own.Count;
    }

    /// <summary>The text form the API reports: IPv4 (also for a v4-mapped v6 address) or IPv6.</summary>
    internal static string FormatAddress(UInt128 address)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(ListeningSocket.IsV4Mapped(address) ? bytes[12..] : bytes).ToString();
    }

    public override void Dispose()
    {
        base.Dispose();
        lock (_scanGate)
        {
            _source.Dispose();
        }
    }
}
