using Sandboxd.Native;

namespace Sandboxd.Watch;

internal sealed partial class DirectoryWatcher
{
    private async Task ProcessAsync(CancellationToken cancellationToken)
    {
        var reader = _raw.Reader;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (_pending.Count == 0)
            {
                if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            else
            {
                var wait = _pending.Values.Min(p => p.Deadline) - _time.GetUtcNow().UtcDateTime;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await reader.WaitToReadAsync(cancellationToken).AsTask().WaitAsync(wait, _time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        // a fold window ended
                    }
                }
            }

            while (reader.TryRead(out var batch))
            {
                foreach (var e in batch)
                {
                    Handle(e);
                }
            }

            if (_overflowed)
            {
                _overflowed = false;
                Rescan();
            }

            FlushExpired();
            if (Mode == "polling")
            {
                await PollAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }

    private void Handle(InotifyEvent e)
    {
        if ((e.Mask & LibC.IN_Q_OVERFLOW) != 0)
        {
            Rescan();
            return;
        }

        if (!_dirsByWd.TryGetValue(e.Wd, out var dir))
        {
            return;
        }

        if ((e.Mask & (LibC.IN_IGNORED | LibC.IN_DELETE_SELF | LibC.IN_MOVE_SELF)) != 0 && e.Name.Length == 0)
        {
            if ((e.Mask & LibC.IN_IGNORED) != 0)
            {
                _dirsByWd.Remove(e.Wd);
                _wdsByDir.Remove(dir);
            }

            return;
        }

        var path = dir == "/" ? "/" + e.Name : dir + "/" + e.Name;
        if (IsIgnored(path))
        {
            return;
        }

        var isDir = (e.Mask & LibC.IN_ISDIR) != 0;
        if ((e.Mask & (LibC.IN_CREATE | LibC.IN_MOVED_TO)) != 0 && isDir)
        {
            OnDirectoryAdded(path);
        }
        else if ((e.Mask & (LibC.IN_DELETE | LibC.IN_MOVED_FROM)) != 0)
        {
            OnRemoved(path, isDir);
        }
        else
        {
            OnFileEvent(path, e.Mask);
        }
    }

    /// <summary>A directory appeared (created or moved in): report it, watch it, and report what it already holds.</summary>
    private void OnDirectoryAdded(string path)
    {
        _known.Add(path);
        Emit(new WatchEvent("addDir", path));
        if (!WatchTree(path, emitContents: true))
        {
            SwitchToPolling();
        }
    }

    /// <summary>A name went (deleted or moved out): a directory's whole tree, or a file the subscriber knew of.</summary>
    private void OnRemoved(string path, bool isDir)
    {
        if (isDir)
        {
            ForgetTree(path);
            Emit(new WatchEvent("unlinkDir", path));
            return;
        }

        var wasKnown = _known.Remove(path);
        if (_pending.Remove(path, out var pending) && pending.Kind == "add")
        {
            return; // created and gone within the fold window: nothing to report
        }

        if (wasKnown)
        {
            Emit(new WatchEvent("unlink", path));
        }
    }

    /// <summary>
    /// A file was moved in (reported at once), created or modified (folded: reported when the fold window ends), or
    /// closed after writing (the open fold reported now).
    /// </summary>
    private void OnFileEvent(string path, uint mask)
    {
        if ((mask & LibC.IN_MOVED_TO) != 0)
        {
            _pending.Remove(path);
            Emit(new WatchEvent(_known.Add(path) ? "add" : "change", path));
            return;
        }

        if ((mask & LibC.IN_CREATE) != 0)
        {
            _pending[path] = (_known.Add(path) ? "add" : "change", _time.GetUtcNow().UtcDateTime + FoldWindow);
            return;
        }

        if ((mask & LibC.IN_MODIFY) != 0)
        {
            _pending[path] = _pending.TryGetValue(path, out var open)
                ? (open.Kind, _time.GetUtcNow().UtcDateTime + FoldWindow)
                : (_known.Add(path) ? "add" : "change", _time.GetUtcNow().UtcDateTime + FoldWindow);

            return;
        }

        if ((mask & LibC.IN_CLOSE_WRITE) != 0 && _pending.Remove(path, out var closed))
        {
            Emit(new WatchEvent(closed.Kind, path)); // the writer is done: report now, not after the window
        }
    }

    private void Emit(WatchEvent e) => _emit(e);

    private void FlushExpired()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow().UtcDateTime;
        foreach (var (path, pending) in _pending.Where(p => p.Value.Deadline <= now).ToList())
        {
            _pending.Remove(path);
            Emit(new WatchEvent(pending.Kind, path));
        }
    }

    private void ForgetTree(string directory)
    {
        var prefix = directory + "/";
        _known.RemoveWhere(p => p == directory || p.StartsWith(prefix, StringComparison.Ordinal));
        foreach (var (dir, wd) in _wdsByDir.Where(d => d.Key == directory || d.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            _wdsByDir.Remove(dir);
            _dirsByWd.Remove(wd);
            _inotify?.RemoveWatch(wd); // moved out of the tree: not ours any more (deleted: the kernel dropped it already)
        }
    }

    /// <summary>After an overflow: compare the tree with what we knew and report the difference.</summary>
    private void Rescan()
    {
        _warn("The kernel's inotify queue overflowed; the watcher rescanned the tree and reported the differences.");
        var before = new HashSet<string>(_known, StringComparer.Ordinal);
        _known.Clear();
        if (!WatchTree(Root, emitContents: false))
        {
            SwitchToPolling();
            return;
        }

        foreach (var path in _known.Where(p => !before.Contains(p)))
        {
            Emit(new WatchEvent(Directory.Exists(path) ? "addDir" : "add", path));
        }

        foreach (var path in before.Where(p => !_known.Contains(p)))
        {
            Emit(new WatchEvent("unlink", path));
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var previous = Snapshot();
        using var timer = new PeriodicTimer(PollInterval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            var current = Snapshot();
            foreach (var (path, state) in current)
            {
                if (!previous.TryGetValue(path, out var old))
                {
                    Emit(new WatchEvent(state.IsDir ? "addDir" : "add", path));
                }
                else if (!state.IsDir && (old.Size != state.Size || old.Modified != state.Modified))
                {
                    Emit(new WatchEvent("change", path));
                }
            }

            foreach (var (path, state) in previous)
            {
                if (!current.ContainsKey(path))
                {
                    Emit(new WatchEvent(state.IsDir ? "unlinkDir" : "unlink", path));
                }
            }

            previous = current;
        }
    }

    private Dictionary<string, (bool IsDir, long Size, DateTime Modified)> Snapshot()
    {
        var result = new Dictionary<string, (bool, long, DateTime)>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push(Root);
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            try
            {
                foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true }))
                {
                    if (IsIgnored(entry.FullName))
                    {
                        continue;
                    }

                    var isDir = entry is DirectoryInfo && entry.LinkTarget is null;
                    result[entry.FullName] = (isDir, isDir ? 0 : ((FileInfo)entry).Length, entry.LastWriteTimeUtc);
                    if (isDir)
                    {
                        stack.Push(entry.FullName);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // vanished meanwhile
            }
        }

        return result;
    }
}
