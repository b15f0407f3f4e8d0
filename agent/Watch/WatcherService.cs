using System.Collections.Concurrent;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Live;
using Sandboxd.Native;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;

namespace Sandboxd.Watch;

/// <summary>The watchers of every sandbox; publishes <c>file:changed</c> on <c>watcher:&lt;id&gt;</c>.</summary>
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

    public static ConcurrentDictionary<string, Watcher> Registry(SandboxContext sandbox) =>
        sandbox.Feature(() => new ConcurrentDictionary<string, Watcher>(StringComparer.Ordinal));

    public Watcher Create(SandboxContext sandbox, string path, bool includeContent, IReadOnlyList<string> ignored, string encoding)
    {
        var watcher = new Watcher(Ids.New("watcher_"), path, includeContent, ignored, encoding);
        var directory = new DirectoryWatcher(path, new Glob(ignored), inotify,
            e => Publish(sandbox, watcher, e),
            warning =>
            {
                logger.WatcherWarning(watcher.Id, warning);
                hub.Publish(sandbox, LiveMessage.Watcher("watcher:warning", watcher.Channel, new WatcherLifecycleEvent(watcher.Id, Message: warning)));
            },
            time);
        watcher.Directory = directory;
        directory.Start();
        Registry(sandbox)[watcher.Id] = watcher;
        _all[watcher] = sandbox;
        AgentMeter.OpenWatchers.Add(1);
        hub.Publish(sandbox, LiveMessage.Watcher("watcher:created", watcher.Channel, new WatcherLifecycleEvent(watcher.Id, path)));
        return watcher;
    }

    private void Publish(SandboxContext sandbox, Watcher watcher, WatchEvent e)
    {
        if (watcher.Stopped || sandbox.IsProtected(e.Path))
        {
            return; // nothing of the agent's state directory goes out, even under a watched parent
        }

        var changed = new FileChangedEvent(e.Event, e.Path, Seq: watcher.NextSequence());
        if (watcher.IncludeContent && e.Event is "add" or "change")
        {
            try
            {
                // Regular files only, read without blocking and never past the cap: a FIFO must not wedge this loop
                // (and with it DELETE /watchers and the agent's stop), nor a device fill the agent's memory.
                var bytes = FileOps.ReadRegular(e.Path, MaxContentBytes);
                if (watcher.Encoding == "base64")
                {
                    changed = changed with { Content = Convert.ToBase64String(bytes), Encoding = "base64" };
                }
                else
                {
                    changed = changed with { Content = System.Text.Encoding.UTF8.GetString(bytes) };
                }
            }
            catch (SandboxdException)
            {
                // gone, unreadable, too large or not a regular file by the time we looked: the event goes out without content
            }
        }

        hub.Publish(sandbox, LiveMessage.FileChanged(watcher.Channel, changed));
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

        if (watcher.Directory is { } directory)
        {
            await directory.DisposeAsync().ConfigureAwait(false);
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
