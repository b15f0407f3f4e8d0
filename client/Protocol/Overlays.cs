namespace Sandboxd.Protocol;

/// <summary>Copy statistics of an overlay (the client dereferences this object: always present).</summary>
public sealed record OverlayStats(long CopiedFiles, long CopiedDirs, IReadOnlyList<string> Skipped, long? LinkedDirs = null, long? CopiedBytes = null);

/// <summary>An overlay (top-level answer of <c>POST/GET /filesystem/overlays…</c>).</summary>
public sealed record OverlayInfo(
    string Id,
    string Source,
    string Target,
    string Strategy,
    DateTime CreatedAt,
    OverlayStats Stats,
    string CopyStatus,
    string? CopyError = null,
    string? TargetPath = null,
    DateTime? CompletedAt = null);

/// <summary><c>GET /filesystem/overlays</c> (top-level).</summary>
public sealed record OverlayList(IReadOnlyList<OverlayInfo> Overlays);
