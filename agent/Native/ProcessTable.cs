using System.Globalization;
using System.Runtime.Versioning;

namespace Sandboxd.Native;

/// <summary>One row of /proc/&lt;pid&gt;/stat.</summary>
internal readonly record struct ProcStat(int Pid, char State, int ParentPid, int ProcessGroup, int Session);

/// <summary>
/// Knows which children the agent spawned (and therefore waits for itself) and reaps everything else that ends up
/// as its child: the agent is a child subreaper, so double-forked daemons are re-parented to it instead of
/// escaping to init, and their zombies are collected here without stealing the exit status of an owned child.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class ProcessTable(EpollLoop loop)
{
    /// <summary>Guards <see cref="_owned"/>; held only for a set operation, never across a spawn.</summary>
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly HashSet<int> _owned = [];

    /// <summary>
    /// Spawns hold it shared (they overlap), a spawn that moves its thread into a cgroup (v1) and the readers of the
    /// agent's children that must not mistake a fresh child for an orphan (<see cref="ReapOrphans"/>,
    /// <see cref="AdoptedChildren"/>) hold it exclusive: a child exists from its clone, and is owned only once
    /// posix_spawn has returned its pid. Writers are preferred, so a stream of spawns cannot starve the reaper.
    /// See docs/adr/0018-overlapping-spawns.md.
    /// </summary>
    /// <remarks>A monitor (it waits), not a ReaderWriterLockSlim: nothing to dispose in a table that lives as long as
    /// the agent. Guards the three fields below.</remarks>
    private readonly object _spawns = new();
    private int _sharedHolders;
    private bool _exclusiveHeld;
    private int _exclusiveWaiting;

    public static int SelfPid { get; } = LibC.GetPid();

    /// <summary>Makes orphaned descendants re-parent to this process.</summary>
    public static bool TryBecomeSubreaper()
    {
        var ok = SelfPid == 1 || LibC.Prctl(LibC.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
        OwnsItsTree = ok && File.Exists($"/proc/self/task/{SelfPid}/children");
        return ok;
    }

    /// <summary>
    /// True when every descendant of the agent stays in its process tree (subreaper or PID 1) and the kernel lists
    /// children (/proc/&lt;pid&gt;/task/&lt;tid&gt;/children): then the agent's processes are found by walking its own
    /// tree instead of reading every process of the machine.
    /// </summary>
    public static bool OwnsItsTree { get; private set; }

    /// <summary>Starts a spawn: shared with other spawns, or <paramref name="exclusive"/> (the spawning thread changes
    /// cgroup). Pair with <see cref="EndSpawn"/> on the same thread.</summary>
    internal void BeginSpawn(bool exclusive)
    {
        if (exclusive)
        {
            EnterExclusive();
            return;
        }

        lock (_spawns)
        {
            while (_exclusiveHeld || _exclusiveWaiting > 0)
            {
                Monitor.Wait(_spawns);
            }

            _sharedHolders++;
        }
    }

    /// <summary>Ends a spawn begun with <see cref="BeginSpawn"/>; <paramref name="pid"/> (if positive) is owned from now.</summary>
    internal void EndSpawn(bool exclusive, int pid)
    {
        if (pid > 0)
        {
            lock (_gate)
            {
                _owned.Add(pid);
            }
        }

        if (exclusive)
        {
            ExitExclusive();
            return;
        }

        lock (_spawns)
        {
            if (--_sharedHolders == 0 && _exclusiveWaiting > 0)
            {
                Monitor.PulseAll(_spawns);
            }
        }
    }

    /// <summary>Waits until no spawn is in flight and keeps new ones out until <see cref="ExitExclusive"/>.</summary>
    private void EnterExclusive()
    {
        lock (_spawns)
        {
            _exclusiveWaiting++;
            try
            {
                while (_exclusiveHeld || _sharedHolders > 0)
                {
                    Monitor.Wait(_spawns);
                }
            }
            finally
            {
                _exclusiveWaiting--;
            }

            _exclusiveHeld = true;
        }
    }

    private void ExitExclusive()
    {
        lock (_spawns)
        {
            _exclusiveHeld = false;
            Monitor.PulseAll(_spawns);
        }
    }

    /// <summary>Calls <paramref name="onExit"/> with the wait status once <paramref name="pid"/> has exited and been reaped.</summary>
    public void Watch(int pid, Action<int> onExit)
    {
        var pidfd = (int)LibC.Syscall2(LibC.SYS_pidfd_open, pid, 0);
        if (pidfd >= 0)
        {
            loop.AddPidfd(pidfd, pid, status =>
            {
                lock (_gate)
                {
                    _owned.Remove(pid);
                }

                onExit(status);
            });
            return;
        }

        // Kernels before 5.3 have no pidfd: fall back to one blocking waiter thread for this child.
        var thread = new Thread(() =>
        {
            int status;
            int r;
            do
            {
                r = LibC.WaitPid(pid, &status, 0);
            }
            while (r < 0 && LibC.LastErrno == LibC.EINTR);

            lock (_gate)
            {
                _owned.Remove(pid);
            }

            onExit(r == pid ? status : -1);
        })
        { IsBackground = true, Name = $"wait-{pid}" };
        thread.Start();
    }

    /// <summary>Reaps zombie children the agent does not own (orphans re-parented to it). Returns how many.</summary>
    public int ReapOrphans()
    {
        var reaped = 0;
        EnterExclusive(); // no spawn in flight: every child that exists and is ours is in _owned
        try
        {
            foreach (var child in DirectChildren())
            {
                if (IsOwned(child) || !TryReadStat(child, out var stat) || stat.State != 'Z')
                {
                    continue;
                }

                int status;
                if (LibC.WaitPid(child, &status, LibC.WNOHANG) == child)
                {
                    reaped++;
                }
            }
        }
        finally
        {
            ExitExclusive();
        }

        return reaped;
    }

    private static List<int> DirectChildren() => ChildrenOf("self");

    /// <summary>Live children of the agent it did not spawn: orphans re-parented to it (it is a subreaper), e.g. <c>setsid -f</c>.</summary>
    public List<int> AdoptedChildren()
    {
        EnterExclusive();
        try
        {
            return [.. DirectChildren().Where(c => !IsOwned(c) && IsRunning(c))];
        }
        finally
        {
            ExitExclusive();
        }
    }

    private bool IsOwned(int pid)
    {
        lock (_gate)
        {
            return _owned.Contains(pid);
        }
    }

    /// <summary>
    /// Field 22 of /proc/&lt;pid&gt;/stat (start time in clock ticks after boot): with the pid it names one process
    /// across pid reuse. Null when the process is gone.
    /// </summary>
    /// <remarks>Read with open/read/close into a stack buffer (no FileStream, no split): it is on the path of every
    /// spawn (<c>ChildLedger.Record</c>).</remarks>
    public static string? StartTime(int pid)
    {
        var fd = LibC.Open($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }

        // A stat line is about 300 bytes (comm is at most 16, and the 52 numbers are bounded): 1 KiB holds it whole.
        Span<byte> buffer = stackalloc byte[1024];
        int length;
        try
        {
            fixed (byte* b = buffer)
            {
                length = (int)LibC.Read(fd, b, buffer.Length);
            }
        }
        finally
        {
            LibC.Close(fd);
        }

        if (length <= 0)
        {
            return null;
        }

        // "pid (comm) S ppid ..." — comm may hold spaces and parentheses, so count fields after the last ')'. Field 22
        // (starttime) is the 20th after it.
        var rest = buffer[..length];
        var close = rest.LastIndexOf((byte)')');
        if (close < 0 || close + 2 >= rest.Length)
        {
            return null;
        }

        rest = rest[(close + 2)..];
        for (var skip = 0; skip < 19; skip++)
        {
            var space = rest.IndexOf((byte)' ');
            if (space < 0)
            {
                return null;
            }

            rest = rest[(space + 1)..];
        }

        var end = rest.IndexOfAny((byte)' ', (byte)'\n');
        return end <= 0 ? null : System.Text.Encoding.ASCII.GetString(rest[..end]);
    }

    /// <summary>The children of <paramref name="pid"/> (every thread's), empty if it is gone.</summary>
    public static List<int> ChildrenOf(int pid) => ChildrenOf(pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The agent's live descendants that belong to the process tree rooted at <paramref name="leader"/>: its
    /// descendants, plus orphans the agent adopted (as subreaper) that are still in its group or session, with their
    /// descendants. Only valid when <see cref="OwnsItsTree"/>; zombies are left out, the leader is always included.
    /// </summary>
    public HashSet<int> TreeOf(int leader)
    {
        var tree = new HashSet<int> { leader };
        var pending = new Queue<int>();
        pending.Enqueue(leader);
        HashSet<int> spawned;
        lock (_gate)
        {
            spawned = [.. _owned]; // spawned leaders: each leads its own session, never an adopted orphan of another
        }

        foreach (var adopted in DirectChildren())
        {
            if (adopted != leader && !spawned.Contains(adopted) && TryReadStat(adopted, out var stat) && stat.State != 'Z' && (stat.ProcessGroup == leader || stat.Session == leader) && tree.Add(adopted))
            {
                pending.Enqueue(adopted);
            }
        }

        while (pending.TryDequeue(out var pid))
        {
            foreach (var child in ChildrenOf(pid))
            {
                if (!tree.Contains(child) && TryReadStat(child, out var stat) && stat.State != 'Z')
                {
                    tree.Add(child);
                    pending.Enqueue(child);
                }
            }
        }

        return tree;
    }

    /// <summary>Every live process below the agent (only valid when <see cref="OwnsItsTree"/>).</summary>
    public static List<int> AgentDescendants()
    {
        var result = new List<int>();
        var pending = new Queue<int>(DirectChildren());
        var seen = new HashSet<int>();
        while (pending.TryDequeue(out var pid))
        {
            if (!seen.Add(pid))
            {
                continue;
            }

            result.Add(pid);
            foreach (var child in ChildrenOf(pid))
            {
                pending.Enqueue(child);
            }
        }

        return result;
    }

    /// <summary>Alive and not a zombie.</summary>
    public static bool IsRunning(int pid) => TryReadStat(pid, out var stat) && stat.State != 'Z';

    /// <summary>True while any process (zombies included) is in group <paramref name="pgid"/>.</summary>
    public static bool GroupExists(int pgid) => LibC.Kill(-pgid, 0) == 0 || LibC.LastErrno == LibC.EPERM;

    private static List<int> ChildrenOf(string process)
    {
        var result = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{process}/task"))
            {
                string text;
                try
                {
                    text = File.ReadAllText(Path.Combine(task, "children"));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // the thread ended meanwhile
                }

                foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        result.Add(pid);
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the process is gone (or no /proc)
        }

        return result;
    }

    /// <summary>Sends <paramref name="signal"/> to process group <paramref name="pgid"/>. False if the group is gone.</summary>
    public static bool SignalGroup(int pgid, int signal) => LibC.Kill(-pgid, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to one process. False if it is gone.</summary>
    public static bool SignalProcess(int pid, int signal) => LibC.Kill(pid, signal) == 0;

    /// <summary>Every process in /proc right now (zombies included).</summary>
    public static List<ProcStat> Snapshot()
    {
        var result = new List<ProcStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (TryReadStat(pid, out var stat))
            {
                result.Add(stat);
            }
        }

        return result;
    }

    public static bool TryReadStat(int pid, out ProcStat stat)
    {
        stat = default;
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // "pid (comm) S ppid pgrp session ..." — comm may contain spaces and parentheses, so parse after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return false;
        }

        var fields = text.AsSpan(close + 2);
        Span<Range> parts = stackalloc Range[5];
        var count = fields.Split(parts, ' ');
        if (count < 4)
        {
            return false;
        }

        stat = new ProcStat(
            pid,
            fields[parts[0]][0],
            int.Parse(fields[parts[1]], CultureInfo.InvariantCulture),
            int.Parse(fields[parts[2]], CultureInfo.InvariantCulture),
            int.Parse(fields[parts[3]], CultureInfo.InvariantCulture));
        return true;
    }
}
