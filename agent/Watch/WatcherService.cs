using System.Collections.Concurrent;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Live;
using Sandboxd.Native;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;

namespace Sandboxd.Watch;

/// <summary>
/// The watchers of every sandbox; publishes <c>file:changed</c> on <c>watcher:&lt;id&gt;</c>. Watchers of the same
/// directory with the same ignore list share one <see cref="DirectoryWatcher"/> (its inotify watches, its index of
/// the tree, its fold window and its processing loop): each change is worked out once and fanned out to every
/// subscriber, and a watcher itself costs only its record and its sequence number (ADR 0019). The shared tree is
/// disposed with its last watcher.
/// </summary>
internal sealed class WatcherService(InotifyHub inotify, LiveHub hub, TimeProvider time, ILogger<WatcherService> logger) : IAsyncDisposable, ISandboxScoped
{
    public async Task CloseAsync(SandboxContext sandbox)
    {
        foreach (var id in Registry(sandbox).Keys)
        {
            await DestroyAsync(sandbox, id).ConfigureAwait(false);
        }
    }

    public const long MaxContentBytes = 1024 * 1024;
    private readonly ConcurrentDictionary<Watcher, SandboxContext> _all = new();
    private readonly Lock _treesGate = new();
    /// <remarks>Guarded by <see cref="_treesGate"/>: (root, ignore list) → the tree its watchers share.</remarks>
    private readonly Dictionary<string, SharedTree> _trees = new(StringComparer.Ordinal);

    public static ConcurrentDictionary<string, Watcher> Registry(SandboxContext sandbox) =>
        sandbox.Feature(() => new ConcurrentDictionary<string, Watcher>(StringComparer.Ordinal));

    /// <summary>The number of distinct trees watched (shared by watchers of the same root and ignore list).</summary>
    public int TreeCount
    {
        get
        {
            lock (_treesGate)
            {
                return _trees.Count;
            }
        }
    }

    public Watcher Create(SandboxContext sandbox, string path, bool includeContent, IReadOnlyList<string> ignored, string encoding)
    {
        var watcher = new Watcher(Ids.New("watcher_"), path, includeContent, ignored, encoding);
        var key = path + "\0" + string.Join('\0', ignored);
        lock (_treesGate)
        {
            if (_trees.TryGetValue(key, out var tree))
            {
                tree.Add(watcher, sandbox);
            }
            else
            {
                // Creating a tree adds its watches and indexes it under the lock, so a second watcher of the same
                // tree waits for the first rather than starting a second copy.
                tree = new SharedTree(key);
                tree.Add(watcher, sandbox); // before Start: a warning from Start (polling) reaches this watcher
                tree.Directory = new DirectoryWatcher(path, new Glob(ignored), inotify, e => FanOut(tree, e), w => Warn(tree, w), time);
                try
                {
                    tree.Directory.Start();
                }
                catch
                {
                    tree.Remove(watcher);
                    throw;
                }

                _trees[key] = tree;
            }

            watcher.Tree = tree;
            watcher.Directory = tree.Directory;
        }

        Registry(sandbox)[watcher.Id] = watcher;
        _all[watcher] = sandbox;
        AgentMeter.OpenWatchers.Add(1);
        hub.Publish(sandbox, LiveMessage.Watcher("watcher:created", watcher.Channel, new WatcherLifecycleEvent(watcher.Id, path)));
        return watcher;
    }

    /// <summary>On the tree's processing loop: one change to every watcher of the tree (the content read once).</summary>
    private void FanOut(SharedTree tree, WatchEvent e)
    {
        byte[]? content = null;
        var contentRead = false;
        foreach (var (watcher, sandbox) in tree.Subscribers)
        {
            if (watcher.Stopped || sandbox.IsProtected(e.Path))
            {
                continue; // nothing of the agent's state directory goes out, even under a watched parent
            }

            var changed = new FileChangedEvent(e.Event, e.Path, Seq: watcher.NextSequence());
            if (watcher.IncludeContent && e.Event is "add" or "change")
            {
                if (!contentRead)
                {
                    contentRead = true;
                    content = ReadContent(e.Path);
                }

                if (content is not null)
                {
                    changed = watcher.Encoding == "base64"
                        ? changed with { Content = Convert.ToBase64String(content), Encoding = "base64" }
                        : changed with { Content = System.Text.Encoding.UTF8.GetString(content) };
                }
            }

            hub.Publish(sandbox, LiveMessage.FileChanged(watcher.Channel, changed));
        }
    }

    private static byte[]? ReadContent(string path)
    {
        try
        {
            // Regular files only, read without blocking and never past the cap: a FIFO must not wedge this loop
            // (and with it DELETE /watchers and the agent's stop), nor a device fill the agent's memory.
            return FileOps.ReadRegular(path, MaxContentBytes);
        }
        catch (SandboxdException)
        {
            return null; // gone, unreadable, too large or not a regular file by the time we looked: no content
        }
    }

    private void Warn(SharedTree tree, string warning)
    {
        foreach (var (watcher, sandbox) in tree.Subscribers)
        {
            logger.WatcherWarning(watcher.Id, warning);
            hub.Publish(sandbox, LiveMessage.Watcher("watcher:warning", watcher.Channel, new WatcherLifecycleEvent(watcher.Id, Message: warning)));
        }
    }

    public async Task<bool> DestroyAsync(SandboxContext sandbox, string id)
    {
        if (!Registry(sandbox).TryRemove(id, out var watcher))
        {
            return false;
        }

        await StopAsync(sandbox, watcher).ConfigureAwait(false);
        return true;
    }

    private async Task StopAsync(SandboxContext sandbox, Watcher watcher)
    {
        watcher.Stopped = true;
        if (_all.TryRemove(watcher, out _))
        {
            AgentMeter.OpenWatchers.Add(-1);
        }

        DirectoryWatcher? last = null;
        lock (_treesGate)
        {
            if (watcher.Tree is { } tree && tree.Remove(watcher) == 0 && _trees.TryGetValue(tree.Key, out var current) && current == tree)
            {
                _trees.Remove(tree.Key);
                last = tree.Directory;
            }

            watcher.Tree = null;
        }

        if (last is not null)
        {
            await last.DisposeAsync().ConfigureAwait(false); // the tree's last watcher: its watches and index go
        }

        hub.Publish(sandbox, LiveMessage.Watcher("watcher:destroyed", watcher.Channel, new WatcherLifecycleEvent(watcher.Id)));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (watcher, sandbox) in _all)
        {
            await StopAsync(sandbox, watcher).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// One watched tree and the watchers sharing it. <see cref="Subscribers"/> is copied on write (under the service's
/// lock) and read without one by the tree's processing loop.
/// </summary>
internal sealed class SharedTree(string key)
{
    private volatile (Watcher Watcher, SandboxContext Sandbox)[] _subscribers = [];

    public string Key { get; } = key;

    public DirectoryWatcher? Directory { get; set; }

    public (Watcher Watcher, SandboxContext Sandbox)[] Subscribers => _subscribers;

    public void Add(Watcher watcher, SandboxContext sandbox) => _subscribers = [.. _subscribers, (watcher, sandbox)];

    /// <returns>The number of watchers left.</returns>
    public int Remove(Watcher watcher)
    {
        _subscribers = [.. _subscribers.Where(s => s.Watcher != watcher)];
        return _subscribers.Length;
    }
}
