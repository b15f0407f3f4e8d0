using System.Globalization;
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
/// The one port scanner of the agent: polls /proc/net/tcp and /proc/net/tcp6 for LISTEN sockets while anyone needs it
/// (signals active, servers running), maps new sockets to their owning pid through /proc/&lt;pid&gt;/fd, and tells
/// subscribers about opens and closes. Sockets of the agent itself are never reported.
/// </summary>
internal sealed class PortScanner(ILogger<PortScanner> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>The interval while someone waits for a port to open (<see cref="Hurry"/>): a server that just started.</summary>
    public static readonly TimeSpan FastInterval = TimeSpan.FromMilliseconds(20);
    private readonly Lock _gate = new();
    private int _hurried;
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly List<Action<PortChange>> _subscribers = [];
    private Dictionary<(int Port, string Address), ListeningPort> _current = [];
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
    /// so readiness is seen within tens of milliseconds. A scan without new sockets only reads /proc/net/tcp{,6}.
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

    private void ScanUnsynchronized()
    {
        var found = new Dictionary<(int, string), (long Inode, int Port, string Address)>();
        Read("/proc/net/tcp", found, v6: false);
        Read("/proc/net/tcp6", found, v6: true);

        Dictionary<(int, string), ListeningPort> previous;
        lock (_gate)
        {
            previous = _current;
        }

        var next = new Dictionary<(int Port, string Address), ListeningPort>();
        var fresh = new HashSet<long>();
        var own = new HashSet<long>();
        foreach (var (key, socket) in found)
        {
            if (_own.Contains(socket.Inode))
            {
                own.Add(socket.Inode);
            }
            else if (!(previous.TryGetValue(key, out var known) && known.Inode == socket.Inode))
            {
                fresh.Add(socket.Inode);
            }
        }

        var owners = fresh.Count > 0 ? MapInodesToPids(fresh) : [];
        var changes = new List<PortChange>();
        foreach (var (key, socket) in found)
        {
            if (own.Contains(socket.Inode))
            {
                continue;
            }

            if (previous.TryGetValue(key, out var known) && known.Inode == socket.Inode)
            {
                next[key] = known;
                continue;
            }

            var pid = owners.TryGetValue(socket.Inode, out var p) ? p : (int?)null;
            if (pid == ProcessTable.SelfPid)
            {
                own.Add(socket.Inode); // the agent's own listener
                continue;
            }

            var port = new ListeningPort(socket.Port, socket.Address, socket.Inode, pid);
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

        foreach (var change in changes)
        {
            logger.PortChanged(change.Port.Port, change.Port.Address, change.Opened ? "open" : "close", change.Port.Pid ?? 0);
            foreach (var subscriber in subscribers)
            {
                subscriber(change);
            }
        }
    }

    private static void Read(string file, Dictionary<(int, string), (long, int, string)> found, bool v6)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (IOException)
        {
            return;
        }

        for (var i = 1; i < lines.Length; i++)
        {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 10 || parts[3] != "0A")
            {
                continue; // not LISTEN
            }

            var colon = parts[1].IndexOf(':', StringComparison.Ordinal);
            var port = int.Parse(parts[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var address = ParseAddress(parts[1][..colon], v6);
            var inode = long.Parse(parts[9], CultureInfo.InvariantCulture);
            found[(port, address)] = (inode, port, address);
        }
    }

    private static string ParseAddress(string hex, bool v6)
    {
        var bytes = Convert.FromHexString(hex);
        // /proc prints each 32-bit word in host (little-endian) order.
        for (var w = 0; w < bytes.Length; w += 4)
        {
            Array.Reverse(bytes, w, 4);
        }

        var address = new IPAddress(bytes);
        if (v6 && address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.ToString();
    }

    /// <summary>
    /// socket inode → pid for <paramref name="wanted"/> (only run when a new listener shows up), from the fd links of
    /// the agent itself, then its own descendants — a server's port is found without reading every process of a busy machine —
    /// and of every other process only for sockets still unowned (signals report every listener of the sandbox).
    /// </summary>
    private static Dictionary<long, int> MapInodesToPids(HashSet<long> wanted)
    {
        var result = new Dictionary<long, int>();
        // The agent first: a child between its spawn and its exec still holds copies of the agent's descriptors
        // (they close at exec), so its own listeners must be claimed before any descendant is looked at.
        var scanned = new HashSet<int> { ProcessTable.SelfPid };
        if (AddSocketsOf(ProcessTable.SelfPid, wanted, result))
        {
            return result;
        }

        if (ProcessTable.OwnsItsTree)
        {
            foreach (var pid in ProcessTable.AgentDescendants())
            {
                scanned.Add(pid);
                if (AddSocketsOf(pid, wanted, result))
                {
                    return result;
                }
            }
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !scanned.Contains(pid)
                && AddSocketsOf(pid, wanted, result))
            {
                break;
            }
        }

        return result;
    }

    /// <summary>Adds the wanted sockets <paramref name="pid"/> holds; true once every wanted socket has an owner.</summary>
    private static bool AddSocketsOf(int pid, HashSet<long> wanted, Dictionary<long, int> result)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                    && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
                    && wanted.Contains(inode))
                {
                    result.TryAdd(inode, pid);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // process gone or not ours to inspect
        }

        return result.Count >= wanted.Count;
    }
}

internal static partial class PortsLog
{
    [LoggerMessage(1500, LogLevel.Debug, "Port {Port} on {Address}: {Change} (pid {Pid})")]
    public static partial void PortChanged(this ILogger logger, int port, string address, string change, int pid);
}
