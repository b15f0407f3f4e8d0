using Sandboxd.Processes;

namespace Sandboxd.Terminals;

internal sealed partial class Terminal
{
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private ChildProcess? _process;
    private int _cols = 80;
    private int _rows = 24;
    private int? _exitCode;
    private bool _destroyed;

    /// <summary>The task re-sending terminal:created until someone subscribes (kept so it has an owner).</summary>
    public Task? CreatedAnnouncer { get; set; }

    /// <summary>Marks the terminal stopped when its shell exits (kept so it has an owner).</summary>
    public Task? ExitWatcher { get; set; }

    /// <summary>PTY output (scrollback): a bounded log by offset, replayed to late subscribers.</summary>
    public OutputLog? Output { get; private set; }

    public ChildProcess? Process { get { lock (_gate) { return _process; } } }

    public (int Cols, int Rows) Size { get { lock (_gate) { return (_cols, _rows); } } }

    public int? ExitCode { get { lock (_gate) { return _exitCode; } } }

    /// <summary>"running" while the shell lives (exec terminals always), "stopped" after it exited.</summary>
    public string Status
    {
        get
        {
            lock (_gate)
            {
                return !IsPty ? "running" : _process is { HasExited: false } ? "running" : "stopped";
            }
        }
    }

    public void AttachPty(ChildProcess process, OutputLog output, int cols, int rows)
    {
        lock (_gate)
        {
            _process = process;
            Output = output;
            _cols = cols;
            _rows = rows;
        }
    }

    public void Resize(int cols, int rows)
    {
        ChildProcess? process;
        lock (_gate)
        {
            _cols = cols;
            _rows = rows;
            process = _process;
        }

        process?.Resize(cols, rows);
    }

    public void MarkExited(int exitCode)
    {
        lock (_gate)
        {
            _exitCode = exitCode;
        }
    }

    /// <summary>True the first time only: the terminal:destroyed event is sent once.</summary>
    public bool TryMarkDestroyed()
    {
        lock (_gate)
        {
            if (_destroyed)
            {
                return false;
            }

            _destroyed = true;
            return true;
        }
    }
}
