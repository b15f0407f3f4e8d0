using System.Threading.Channels;
using Sandboxd.FileSystem;
using Sandboxd.Native;

namespace Sandboxd.Watch;

/// <summary>One change as the protocol names it: add, change, unlink, addDir, unlinkDir.</summary>
internal readonly record struct WatchEvent(string Event, string Path);

/// <summary>
/// A recursive watch of one directory tree. inotify watches are added per directory — never for ignored ones — and
/// for new directories as they appear (their contents at that moment are reported too). Bursts are folded: a created
/// file yields one <c>add</c> when its writer closes it (or 100 ms after the last write if it stays open); a file
/// replaced by rename is a <c>change</c>. When the kernel's watch limit runs out the watcher says so and falls back
/// to polling; a queue overflow triggers a rescan. Raw events are only enqueued on the I/O thread; this type's own
/// loop does the work. The inotify instance is the agent's one <see cref="InotifyHub"/>: this watcher holds a handle
/// on it, and watches it shares with another watcher of an overlapping tree stay while either holds them.
/// </summary>
internal sealed partial class DirectoryWatcher : IAsyncDisposable
{
    public static readonly TimeSpan FoldWindow = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly InotifyHub _hub;
    private readonly Glob _ignore;
    private readonly Action<WatchEvent> _emit;
    private readonly Action<string> _warn;
    private readonly TimeProvider _time;
    private readonly Channel<List<InotifyEvent>> _raw = Channel.CreateBounded<List<InotifyEvent>>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stop = new();

    // All of the following are touched only by the processing loop (and by Start before it runs).
    private readonly Dictionary<int, string> _dirsByWd = [];
    private readonly Dictionary<string, int> _wdsByDir = new(StringComparer.Ordinal);
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Kind, DateTime Deadline)> _pending = new(StringComparer.Ordinal);
    private Inotify? _inotify;
    private volatile bool _overflowed;
    private Task _run = Task.CompletedTask;

    public DirectoryWatcher(string root, Glob ignore, InotifyHub hub, Action<WatchEvent> emit, Action<string> warn, TimeProvider time)
    {
        _time = time;
        Root = root;
        _ignore = ignore;
        _hub = hub;
        _emit = emit;
        _warn = warn;
    }

    public string Root { get; }

    /// <summary>"inotify" normally; "polling" after the watch limit ran out.</summary>
    public string Mode { get; private set; } = "inotify";

    public string? Warning { get; private set; }

    /// <summary>Adds the watches (the watcher is active when this returns) and starts processing.</summary>
    public void Start()
    {
        _inotify = _hub.Open(OnRaw, () => _raw.Writer.TryComplete());
        if (!WatchTree(Root, emitContents: false))
        {
            SwitchToPolling();
        }

        _run = Mode == "polling" ? PollAsync(_stop.Token) : ProcessAsync(_stop.Token);
    }

    private void OnRaw(List<InotifyEvent> events)
    {
        if (!_raw.Writer.TryWrite(events))
        {
            _overflowed = true; // our own queue is full: rescan later instead of blocking the I/O thread
        }
    }

    private string Relative(string path) => path.Length <= Root.Length ? "" : path[(Root.Length + (Root == "/" ? 0 : 1))..];

    private bool IsIgnored(string path)
    {
        var name = Path.GetFileName(path);
        // The agent's own atomic-write temp files are never news.
        return (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal) && name.Contains(".sandboxd-", StringComparison.Ordinal))
            || _ignore.IsMatch(Relative(path));
    }

    /// <returns>false when the kernel's watch limit was reached.</returns>
    private bool WatchTree(string directory, bool emitContents)
    {
        var stack = new Stack<string>();
        stack.Push(directory);
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            if (_inotify is not null && !_wdsByDir.ContainsKey(dir))
            {
                var wd = _inotify.AddWatch(dir, out var failure);
                if (failure == WatchFailure.LimitReached)
                {
                    return false;
                }

                if (wd >= 0)
                {
                    _dirsByWd[wd] = dir;
                    _wdsByDir[dir] = wd;
                }
            }

            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true }).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // vanished or unreadable meanwhile
            }

            foreach (var entry in entries)
            {
                var path = entry.FullName;
                if (IsIgnored(path))
                {
                    continue;
                }

                var isDir = entry is DirectoryInfo && entry.LinkTarget is null;
                if (_known.Add(path) && emitContents)
                {
                    _emit(new WatchEvent(isDir ? "addDir" : "add", path));
                }

                if (isDir)
                {
                    stack.Push(path);
                }
            }
        }

        return true;
    }

    private void SwitchToPolling()
    {
        _inotify?.Dispose(); // releases this watcher's watches, and only them
        _inotify = null;
        _dirsByWd.Clear();
        _wdsByDir.Clear();
        Mode = "polling";
        Warning = "The inotify watch limit (fs.inotify.max_user_watches) is exhausted: this watcher polls every second instead. "
            + "Raise the limit (sysctl fs.inotify.max_user_watches=524288) or ignore large directories such as node_modules.";
        _warn(Warning);
        _known.Clear();
        WatchTree(Root, emitContents: false); // rebuilds the index only (no inotify any more)
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _inotify?.Dispose();
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }

        _stop.Dispose();
    }
}
