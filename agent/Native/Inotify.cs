namespace Sandboxd.Native;

/// <summary>One raw inotify event.</summary>
internal readonly record struct InotifyEvent(int Wd, uint Mask, uint Cookie, string Name);

/// <summary>Why adding a watch failed.</summary>
internal enum WatchFailure { None, LimitReached, NotFound, Other }

/// <summary>
/// One watcher's view of the agent's shared inotify instance (<see cref="InotifyHub"/>): the wds it added, and the
/// events of those wds (plus queue overflows), handed to <c>onEvents</c> on the I/O thread, which must only enqueue.
/// Dispose releases exactly this handle's watches; a kernel watch another handle also holds stays.
/// </summary>
internal sealed class Inotify : IDisposable
{
    /// <summary>The one mask every watch is added with (see <see cref="InotifyHub"/> on why it must be one).</summary>
    public const uint WatchMask = LibC.IN_MODIFY | LibC.IN_CLOSE_WRITE | LibC.IN_MOVED_FROM | LibC.IN_MOVED_TO | LibC.IN_CREATE
        | LibC.IN_DELETE | LibC.IN_DELETE_SELF | LibC.IN_MOVE_SELF | LibC.IN_ONLYDIR | LibC.IN_DONT_FOLLOW | LibC.IN_EXCL_UNLINK;

    private readonly InotifyHub _hub;
    private readonly Action<List<InotifyEvent>> _onEvents;
    private readonly Action _onClosed;

    internal Inotify(InotifyHub hub, InotifyHub.Instance instance, Action<List<InotifyEvent>> onEvents, Action onClosed)
    {
        _hub = hub;
        Instance = instance;
        _onEvents = onEvents;
        _onClosed = onClosed;
    }

    /// <remarks>The members below are guarded by the hub's lock.</remarks>
    internal InotifyHub.Instance Instance { get; }

    internal HashSet<int> Wds { get; } = [];

    internal bool Disposed { get; set; }

    /// <returns>The wd (the same number for the same directory in every watcher), or -1 with the reason.</returns>
    public int AddWatch(string directory, out WatchFailure failure) => _hub.AddWatch(this, directory, out failure);

    /// <summary>Lets go of a wd this handle added; the kernel watch goes when no other handle holds it.</summary>
    public void RemoveWatch(int wd) => _hub.RemoveWatch(this, wd);

    internal void OnEvents(List<InotifyEvent> events) => _onEvents(events);

    internal void OnClosed() => _onClosed();

    public void Dispose() => _hub.Close(this);
}
