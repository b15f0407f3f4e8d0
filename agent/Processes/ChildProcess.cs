using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>
/// The handle every feature gets for a child: its pid (= process group = session), its output logs, its exit, and the
/// one way to stop it (<see cref="StopAsync"/>).
/// </summary>
internal sealed class ChildProcess
{
    private readonly NativeProcess _native;
    private readonly ProcessTable _table;
    private readonly TaskCompletionSource<ExitStatus> _exited;

    internal ChildProcess(NativeProcess native, ProcessTable table, OutputLog output, OutputLog? error, TaskCompletionSource<ExitStatus> exited)
    {
        _exited = exited;
        _native = native;
        _table = table;
        Output = output;
        Error = error;
    }

    public int Pid => _native.Pid;

    /// <summary>Who started it (null for a child spawned without an owner).</summary>
    public ProcessOwner? Owner { get; init; }

    /// <summary>Stopped when agent shutdown begins (see <see cref="ProcessSpec.StopEarly"/>).</summary>
    public bool StopEarly { get; init; } = true;

    /// <summary>The first signal of a stop when the caller has no reason to pick another: SIGHUP for a PTY session (a
    /// hang-up is what ends an interactive shell, which ignores SIGTERM), SIGTERM otherwise.</summary>
    public int StopSignal { get; init; } = LibC.SIGTERM;

    /// <summary>The clock of the stop's bounded wait for the process tree to go.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>stdout, or the PTY output.</summary>
    public OutputLog Output { get; }

    /// <summary>stderr (null for a PTY).</summary>
    public OutputLog? Error { get; }

    public Task<ExitStatus> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Input accepted but not yet taken by the child, per child (a paste into a shell that is busy).</summary>
    public const int MaxPendingInputBytes = 16 * 1024 * 1024;
    private readonly System.Threading.Channels.Channel<byte[]> _input =
        System.Threading.Channels.Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });
    private long _pendingInput;
    private int _inputPumpStarted;

    /// <summary>The task that feeds queued input to the child (owned here; ends when the child's input closes).</summary>
    public Task InputPump { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Queues input for the child without ever blocking the caller (a WebSocket receive loop serving other terminals):
    /// a child that does not read just accumulates input, up to <see cref="MaxPendingInputBytes"/>. False when the
    /// queue is full or the input side is closed.
    /// </summary>
    public bool EnqueueInput(byte[] data)
    {
        if (HasExited || Interlocked.Add(ref _pendingInput, data.Length) > MaxPendingInputBytes)
        {
            Interlocked.Add(ref _pendingInput, -data.Length);
            return false;
        }

        _input.Writer.TryWrite(data);
        if (Interlocked.Exchange(ref _inputPumpStarted, 1) == 0)
        {
            InputPump = PumpInputAsync();
        }

        return true;
    }

    private async Task PumpInputAsync()
    {
        var delay = 1;
        await foreach (var chunk in _input.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var offset = 0;
            while (offset < chunk.Length)
            {
                var status = _native.TryWrite(chunk.AsSpan(offset), out var written);
                offset += written;
                if (status == NativeProcess.WriteStatus.Closed)
                {
                    _input.Writer.TryComplete();
                    Interlocked.Exchange(ref _pendingInput, 0);
                    return;
                }

                if (status == NativeProcess.WriteStatus.WouldBlock)
                {
                    // The child is not reading: wait a little and try again (back-pressure stays here, per child).
                    await Task.Delay(delay).ConfigureAwait(false);
                    delay = Math.Min(delay * 2, 50);
                }
                else
                {
                    delay = 1;
                }
            }

            Interlocked.Add(ref _pendingInput, -chunk.Length);
        }
    }

    public void CloseInput() => _native.CloseInput();

    public void Resize(int cols, int rows) => _native.Resize(cols, rows);

    /// <summary>The agent began to stop it (on request, for a timeout or at shutdown): its exit reason is not the signal's.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Sends <paramref name="signal"/> to the child's whole process group.</summary>
    public bool SignalGroup(int signal) => ProcessTable.SignalGroup(Pid, signal);

    /// <summary>
    /// Stops the whole tree: <paramref name="firstSignal"/> to the group and to every known descendant (also those
    /// that left the group with setsid), wait up to <paramref name="grace"/>, then SIGKILL, and return only when no
    /// process of the tree is left alive and the leader has been reaped.
    /// </summary>
    public async Task<ExitStatus> StopAsync(TimeSpan grace, int firstSignal = LibC.SIGTERM, CancellationToken cancellationToken = default)
    {
        StopRequested = true;
        var tree = Descendants();
        SignalTree(tree, firstSignal);
        if (await WaitForTreeAsync(tree, grace, cancellationToken).ConfigureAwait(false))
        {
            return await Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        tree.UnionWith(Descendants());
        SignalTree(tree, LibC.SIGKILL);
        if (!await WaitForTreeAsync(tree, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Process group {Pid} survived SIGKILL.");
        }

        return await Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void SignalTree(HashSet<int> tree, int signal)
    {
        ProcessTable.SignalGroup(Pid, signal);
        foreach (var pid in tree)
        {
            ProcessTable.SignalProcess(pid, signal);
        }
    }

    /// <summary>The leader plus every descendant and group member alive now (the process list's view of this child).</summary>
    public HashSet<int> Tree() => Descendants();

    /// <summary>The leader plus every descendant and group member alive now.</summary>
    private HashSet<int> Descendants()
    {
        if (ProcessTable.OwnsItsTree)
        {
            return _table.TreeOf(Pid); // the agent's own tree only, not every process of the machine
        }

        var snapshot = ProcessTable.Snapshot();
        var tree = new HashSet<int> { Pid };
        var grew = true;
        while (grew)
        {
            grew = false;
            foreach (var p in snapshot)
            {
                if (p.State != 'Z' && !tree.Contains(p.Pid) && (tree.Contains(p.ParentPid) || p.ProcessGroup == Pid || p.Session == Pid))
                {
                    tree.Add(p.Pid);
                    grew = true;
                }
            }
        }

        return tree;
    }

    private async Task<bool> WaitForTreeAsync(HashSet<int> tree, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Time.GetTimestamp();
        var delay = 2;
        while (true)
        {
            _table.ReapOrphans();
            if (HasExited && !AnyAlive(tree))
            {
                return true;
            }

            if (Time.GetElapsedTime(started) >= timeout)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(delay), Time, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 50);
        }
    }

    private bool AnyAlive(HashSet<int> tree)
    {
        foreach (var pid in tree)
        {
            if (ProcessTable.IsRunning(pid))
            {
                return true;
            }
        }

        if (!ProcessTable.GroupExists(Pid))
        {
            return false; // no member left at all, not even a zombie
        }

        if (ProcessTable.OwnsItsTree)
        {
            foreach (var pid in _table.TreeOf(Pid))
            {
                if (pid != Pid && ProcessTable.IsRunning(pid))
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var p in ProcessTable.Snapshot())
        {
            if (p.State != 'Z' && (tree.Contains(p.Pid) || p.ProcessGroup == Pid))
            {
                return true;
            }
        }

        return false;
    }
}
