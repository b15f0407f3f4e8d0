namespace Sandboxd.Watch;

/// <summary>A watcher record: its settings, its directory watch, and the sequence number of its events.</summary>
internal sealed class Watcher(string id, string path, bool includeContent, IReadOnlyList<string> ignored, string encoding)
{
    private long _sequence;

    public string Id { get; } = id;
    public string Path { get; } = path;
    public bool IncludeContent { get; } = includeContent;
    public IReadOnlyList<string> Ignored { get; } = ignored;
    public string Encoding { get; } = encoding;
    public string Channel => "watcher:" + Id;
    public DirectoryWatcher? Directory { get; set; }
    /// <summary>The tree this watcher shares with the other watchers of the same root and ignore list.</summary>
    public SharedTree? Tree { get; set; }
    public volatile bool Stopped;

    public long NextSequence() => Interlocked.Increment(ref _sequence);
}
