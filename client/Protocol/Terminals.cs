namespace Sandboxd.Protocol;

/// <summary><c>POST /terminals</c>. <see cref="Cols"/>/<see cref="Rows"/>, <see cref="Cwd"/> and <see cref="Env"/> are sandboxd extensions.</summary>
public sealed record CreateTerminalRequest(
    bool? Pty = null,
    string? Shell = null,
    string? Encoding = null,
    int? Cols = null,
    int? Rows = null,
    string? Cwd = null,
    IReadOnlyDictionary<string, string>? Env = null,
    long? MemoryMb = null,
    int? PidsMax = null);

/// <summary>A terminal (<c>POST/GET /terminals…</c> data and list items).</summary>
public sealed record TerminalInfo(
    string Id,
    bool Pty,
    string Status,
    DateTime CreatedAt,
    string? Channel = null,
    string? WsUrl = null,
    string? Encoding = null,
    string? Shell = null,
    int? Pid = null,
    int? ExitCode = null,
    int? Cols = null,
    int? Rows = null);

/// <summary><c>GET /terminals</c> data.</summary>
public sealed record TerminalList(IReadOnlyList<TerminalInfo> Terminals);

/// <summary><c>POST /terminals/{id}/execute</c>.</summary>
public sealed record TerminalExecuteRequest(
    string? Command,
    bool? Background = null,
    string? Cwd = null,
    IReadOnlyDictionary<string, string>? Env = null,
    long? TimeoutMs = null,
    string? Shell = null,
    long? MemoryMb = null,
    int? PidsMax = null);
