using Sandboxd.Core;
using Sandboxd.Processes;
using Sandboxd.Protocol;

namespace Sandboxd.Terminals;

/// <summary>One command of an exec terminal: pending (stream, waiting for command:start) → running → completed/failed.</summary>
internal sealed class CommandRecord(string terminalId, ExecSpec spec, int outputCap, TimeProvider time)
{
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();

    public string CmdId { get; } = Ids.New("cmd_");
    public string TerminalId { get; } = terminalId;
    public ExecSpec Spec { get; } = spec;
    public DateTime CreatedAt { get; } = time.GetUtcNow().UtcDateTime;
    public OutputLog Stdout { get; } = new(outputCap);
    public OutputLog Stderr { get; } = new(outputCap);
    public string Channel => "command:" + CmdId;

    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private DateTime? _startedAt;
    private DateTime? _finishedAt;
    private ExitStatus? _exit;
    private ChildProcess? _child;

    public bool TimedOut { get; private set; }

    private bool _stopped;

    /// <summary>Why it ended (<see cref="ExitStatus.Reason"/>); null while it runs.</summary>
    public string? Reason { get { lock (_gate) { return _exit?.Reason(TimedOut, _stopped); } } }

    /// <summary>The monitor task of a started command (its owner is this record).</summary>
    public Task? Run { get; set; }

    public Task Completed => _completed.Task;

    public ChildProcess? Child { get { lock (_gate) { return _child; } } }

    public ExitStatus? Exit { get { lock (_gate) { return _exit; } } }

    public bool IsPending { get { lock (_gate) { return _startedAt is null; } } }

    /// <summary>Marks the record as started; false if it already was (a second command:start).</summary>
    public bool TryMarkStarted()
    {
        lock (_gate)
        {
            if (_startedAt is not null)
            {
                return false;
            }

            _startedAt = time.GetUtcNow().UtcDateTime;
            return true;
        }
    }

    public void Attach(ChildProcess child)
    {
        lock (_gate)
        {
            _child = child;
        }
    }

    public void Finish(ExitStatus exit, bool timedOut, bool stopped = false)
    {
        lock (_gate)
        {
            if (_exit is not null)
            {
                return;
            }

            _exit = exit;
            _finishedAt = time.GetUtcNow().UtcDateTime;
            TimedOut = timedOut;
            _stopped = stopped;
        }

        Stdout.Complete();
        Stderr.Complete();
        _completed.TrySetResult();
    }

    public string Status
    {
        get
        {
            lock (_gate)
            {
                return _startedAt is null ? "pending" : _exit is null ? "running" : _exit.Value.ExitCode == 0 ? "completed" : "failed";
            }
        }
    }

    public long? DurationMs
    {
        get
        {
            lock (_gate)
            {
                return _finishedAt is { } f && _startedAt is { } s ? (long)(f - s).TotalMilliseconds : null;
            }
        }
    }

    public CommandInfo ToInfo(bool withOutput)
    {
        lock (_gate)
        {
            return new CommandInfo(
                CmdId,
                Spec.Command,
                Status,
                _startedAt ?? CreatedAt,
                withOutput ? Stdout.ReadAllText(out _) : null,
                withOutput ? Stderr.ReadAllText(out _) : null,
                _finishedAt,
                DurationMs,
                _exit?.ExitCode,
                TerminalId,
                _exit?.Reason(TimedOut, _stopped),
                _exit?.SignalName);
        }
    }

    /// <summary>
    /// The answer to a background start (docs: daemon-http §5.2 and §6.5 say <c>running</c>, no output, no exit code):
    /// the command as it was started. A fast command (<c>echo</c>) can end before the answer is written — common on a
    /// busy machine now that spawns overlap — and the answer still says it started; <c>/wait</c> tells its end. A spawn
    /// that failed is said as it is (failed, 127 or 126).
    /// </summary>
    public CommandResult ToStartedResult()
    {
        var result = ToResult(withOutput: false);
        return Child is null ? result : result with { Status = "running", ExitCode = null, DurationMs = null, TimedOut = null, Reason = null, Signal = null };
    }

    /// <summary>The <see cref="CommandInfo"/> form of <see cref="ToStartedResult"/> (<c>POST /terminals/{id}/execute</c>).</summary>
    public CommandInfo ToStartedInfo()
    {
        var info = ToInfo(withOutput: true) with { Stdout = "", Stderr = "" };
        return Child is null ? info : info with { Status = "running", FinishedAt = null, DurationMs = null, ExitCode = null, Reason = null, Signal = null };
    }

    /// <summary>The <c>/run/command</c>-style result.</summary>
    public CommandResult ToResult(bool withOutput)
    {
        var stdout = withOutput ? Stdout.ReadAllText(out _) : "";
        var stderr = withOutput ? Stderr.ReadAllText(out _) : "";
        var truncated = withOutput && (Stdout.Start > 0 || Stderr.Start > 0);
        var exit = Exit;
        return new CommandResult(
            Spec.Command,
            stdout,
            stderr,
            Status,
            CmdId,
            TerminalId,
            exit?.ExitCode,
            DurationMs,
            Status == "pending" ? Channel : null,
            Pty: false,
            Truncated: withOutput ? truncated : null,
            TimeoutMs: Spec.Timeout is { } t ? (long)t.TotalMilliseconds : null,
            TimedOut: exit is not null && TimedOut ? true : null,
            Reason: Reason,
            Signal: exit?.SignalName);
    }
}
