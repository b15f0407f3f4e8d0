using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Overlays;

/// <summary>One overlay: template → target, its copy status and counters (updated by the background copy).</summary>
internal sealed class Overlay(string source, string target, string targetPath, string strategy, IReadOnlyList<string> skipped, TimeProvider time)
{
    private readonly Lock _gate = new();
    private long _copiedFiles;
    private long _copiedDirs;
    private long _linkedDirs;
    private long _copiedBytes;
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private string _status = "pending";
    private string? _error;
    private DateTime? _completedAt;

    public string Id { get; } = Ids.New("ov_");
    public string Source { get; } = source;
    public string Target { get; } = target;
    public string TargetPath { get; } = targetPath;
    public string Strategy { get; } = strategy;
    public DateTime CreatedAt { get; } = time.GetUtcNow().UtcDateTime;
    public IReadOnlyList<string> Skipped { get; } = skipped;
    public Task Background { get; set; } = Task.CompletedTask;
    public CancellationTokenSource Cancel { get; } = new();

    public string Status { get { lock (_gate) { return _status; } } }

    public void FileCopied(long bytes)
    {
        Interlocked.Increment(ref _copiedFiles);
        Interlocked.Add(ref _copiedBytes, bytes);
    }

    public void DirectoryCopied() => Interlocked.Increment(ref _copiedDirs);

    public void DirectoriesLinked(int count) => Interlocked.Add(ref _linkedDirs, count);

    public void SetStatus(string status, string? error = null)
    {
        lock (_gate)
        {
            if (_status is "failed" or "complete" && status != "failed")
            {
                return;
            }

            _status = status;
            _error = error ?? _error;
            if (status is "complete" or "failed")
            {
                _completedAt = time.GetUtcNow().UtcDateTime;
            }
        }
    }

    public OverlayInfo ToInfo()
    {
        lock (_gate)
        {
            return new OverlayInfo(Id, Source, Target, Strategy, CreatedAt,
                new OverlayStats(Interlocked.Read(ref _copiedFiles), Interlocked.Read(ref _copiedDirs), Skipped,
                    Interlocked.Read(ref _linkedDirs), Interlocked.Read(ref _copiedBytes)),
                _status, _error, TargetPath, _completedAt);
        }
    }

    public ReadyOverlay ToReady() => new(Id, Source, Target, Status);
}
