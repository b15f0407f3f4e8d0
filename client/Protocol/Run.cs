namespace Sandboxd.Protocol;

/// <summary><c>POST /run/command</c> and <c>POST /execute</c>. <see cref="TimeoutMs"/> (or <see cref="Timeout"/> in seconds)
/// is the run timeout: the whole process group is stopped when it elapses. <see cref="MemoryMb"/> and <see cref="PidsMax"/>
/// (sandboxd extensions) limit the command's memory (MiB) and its number of processes and threads through a cgroup.</summary>
public sealed record RunCommandRequest(
    string? Command,
    string? Shell = null,
    bool? Background = null,
    bool? Stream = null,
    string? Cwd = null,
    IReadOnlyDictionary<string, string>? Env = null,
    double? Timeout = null,
    long? TimeoutMs = null,
    long? MemoryMb = null,
    int? PidsMax = null);

/// <summary>The result of a command (foreground: complete; background/stream: ids only). <see cref="Reason"/> (sandboxd
/// extension): why it ended — <c>exit</c>, <c>signal</c> (<see cref="Signal"/> names it), <c>oom</c>, <c>timeout</c> or
/// <c>stopped</c>.</summary>
public sealed record CommandResult(
    string Command,
    string Stdout,
    string Stderr,
    string Status,
    string? CmdId = null,
    string? TerminalId = null,
    int? ExitCode = null,
    long? DurationMs = null,
    string? Channel = null,
    bool Pty = false,
    bool? Truncated = null,
    long? TimeoutMs = null,
    bool? TimedOut = null,
    string? Reason = null,
    string? Signal = null);

/// <summary><c>POST /run/code</c>.</summary>
public sealed record RunCodeRequest(string? Code, string? Language = null, long? TimeoutMs = null);

/// <summary><c>POST /run/code</c> data.</summary>
public sealed record RunCodeData(string Output, int ExitCode, string Language);

/// <summary>A command record of an exec terminal (<c>GET /terminals/{id}/commands/{cmd_id}</c>).</summary>
public sealed record CommandInfo(
    string CmdId,
    string Command,
    string Status,
    DateTime StartedAt,
    string? Stdout = null,
    string? Stderr = null,
    DateTime? FinishedAt = null,
    long? DurationMs = null,
    int? ExitCode = null,
    string? TerminalId = null,
    string? Reason = null,
    string? Signal = null);

/// <summary><c>GET /terminals/{id}/commands</c> data.</summary>
public sealed record CommandList(IReadOnlyList<CommandInfo> Commands, int Count);
