namespace Sandboxd.Protocol;

/// <summary>One process of a sandbox (<c>GET /processes</c>, an extension).</summary>
public sealed record ProcessEntry(
    int Pid,
    int Ppid,
    int Pgid,
    IReadOnlyList<string> Cmdline,
    string Name,
    int Uid,
    string User,
    string State,
    long RssBytes,
    double CpuSeconds,
    DateTime StartedAt,
    string? Sandbox = null,
    string? StartedByKind = null,
    string? StartedBy = null);

/// <summary><c>GET /processes</c> data.</summary>
public sealed record ProcessListData(IReadOnlyList<ProcessEntry> Processes);

/// <summary><c>POST /processes/{pid}/signal</c> body: a name (TERM, SIGTERM) or number; <c>group</c> signals its process group.</summary>
public sealed record SignalProcessRequest(string? Signal, bool? Group = null);

/// <summary><c>POST /processes/{pid}/signal</c> data.</summary>
public sealed record SignalProcessData(int Pid, string Signal, bool Group);
