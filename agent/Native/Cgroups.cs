using System.Globalization;
using System.Text;

namespace Sandboxd.Native;

/// <summary>Memory and pid limits of one child (a command, a terminal's shell, a server). Null: no limit.</summary>
internal sealed record ResourceLimits(long? MemoryBytes = null, int? PidsMax = null)
{
    /// <summary>Below this a shell cannot even start; above it the number is a mistake (1 TiB).</summary>
    public const long MinMemoryMb = 4, MaxMemoryMb = 1L << 20;

    public const int MaxPids = 4_194_304; // the kernel's pid_max ceiling

    public bool Any => MemoryBytes is not null || PidsMax is not null;

    /// <summary>
    /// Validates <c>memory_mb</c> and <c>pids_max</c> of a request (null when neither is given) against what
    /// <paramref name="host"/> can enforce: a limit that cannot be set is refused, never silently dropped.
    /// </summary>
    public static ResourceLimits? TryCreate(double? memoryMb, double? pidsMax, CgroupHost host, out string? error)
    {
        error = null;
        if (memoryMb is null && pidsMax is null)
        {
            return null;
        }

        if (memoryMb is { } m && (m != Math.Floor(m) || m < MinMemoryMb || m > MaxMemoryMb))
        {
            error = $"Field 'memory_mb' must be a whole number of MiB from {MinMemoryMb} to {MaxMemoryMb}.";
            return null;
        }

        if (pidsMax is { } p && (p != Math.Floor(p) || p < 1 || p > MaxPids))
        {
            error = $"Field 'pids_max' must be a whole number from 1 to {MaxPids}.";
            return null;
        }

        if (memoryMb is not null && !host.CanLimitMemory || pidsMax is not null && !host.CanLimitPids)
        {
            error = $"This agent cannot set {(memoryMb is not null && !host.CanLimitMemory ? "memory_mb" : "pids_max")}: {host.Reason ?? "no writable cgroup controller"} (GET /info says what it can limit).";
            return null;
        }

        return new ResourceLimits(memoryMb is { } mb ? (long)mb * 1024 * 1024 : null, pidsMax is { } n ? (int)n : null);
    }
}

/// <summary>
/// The cgroups the agent can put its children in: detected once at start from <c>/proc/self/mountinfo</c> and
/// <c>/proc/self/cgroup</c> (cgroup v1 where the host mounts the v1 memory controller, as this hybrid machine does; v2
/// otherwise). Workload groups live in a directory of the agent's own under its own cgroup, so the host's or the
/// container's limits still hold above them. See docs/adr/0013-workload-limits.md.
/// </summary>
internal sealed class CgroupHost
{
    private int _next;

    private CgroupHost(string? version, string? memoryDir, string? pidsDir, string? workMemory, string? workPids, string? reason)
    {
        Version = version;
        OwnMemoryDir = memoryDir;
        OwnPidsDir = pidsDir;
        WorkMemoryDir = workMemory;
        WorkPidsDir = workPids;
        Reason = reason;
    }

    /// <summary><c>v1</c>, <c>v2</c>, or null when no memory controller is mounted.</summary>
    public string? Version { get; }

    /// <summary>The agent's own memory cgroup (its OOM-kill counter covers every child without a group of its own).</summary>
    public string? OwnMemoryDir { get; }

    public string? OwnPidsDir { get; }

    /// <summary>Where workload groups are made (null: memory limits cannot be set).</summary>
    public string? WorkMemoryDir { get; }

    /// <summary>Where workload groups are made for the pids controller (v1: its own hierarchy; v2: same as memory).</summary>
    public string? WorkPidsDir { get; }

    /// <summary>Why limits cannot be set, when they cannot.</summary>
    public string? Reason { get; }

    public bool CanLimitMemory => WorkMemoryDir is not null;

    public bool CanLimitPids => WorkPidsDir is not null;

    /// <summary>Detects the host's cgroups and makes them <see cref="Current"/>.</summary>
    public static CgroupHost Configure(string name) => Current = Detect(name);

    /// <summary>No limits, no counters (tests, or a host without cgroups).</summary>
    public static CgroupHost None { get; } = new(null, null, null, null, null, "no cgroup memory controller is mounted");

    /// <summary>The agent's (set once at start, like <see cref="WorkloadUser.Current"/>).</summary>
    public static CgroupHost Current { get; private set; } = None;

    /// <summary>Finds the agent's cgroups and makes its workload directory <paramref name="name"/> under them.</summary>
    public static CgroupHost Detect(string name)
    {
        try
        {
            var mounts = File.ReadAllLines("/proc/self/mountinfo");
            var own = File.ReadAllLines("/proc/self/cgroup");
            var v1Memory = ResolveV1(mounts, own, "memory");
            if (v1Memory is not null)
            {
                var v1Pids = ResolveV1(mounts, own, "pids");
                var memWork = MakeWorkDir(v1Memory, name, out var memProblem);
                var pidsWork = v1Pids is null ? null : MakeWorkDir(v1Pids, name, out _);
                return new CgroupHost("v1", v1Memory, v1Pids, memWork, pidsWork,
                    memWork is null ? $"cgroup v1 memory controller at {v1Memory} is not writable: {memProblem}" : null);
            }

            var v2 = ResolveV2(mounts, own);
            if (v2 is not null && ReadOrEmpty(Path.Combine(v2, "cgroup.controllers")).Contains("memory", StringComparison.Ordinal))
            {
                var work = PrepareV2(v2, name, out var problem);
                return new CgroupHost("v2", v2, v2, work, work, work is null ? $"cgroup v2 at {v2} cannot be delegated to: {problem}" : null);
            }

            return None;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CgroupHost(null, null, null, null, null, "cgroups cannot be read: " + e.Message);
        }
    }

    /// <summary>The kernel's count of OOM kills in the agent's own memory cgroup (null where it cannot be read).</summary>
    public long? OwnOomKills() => OwnMemoryDir is null ? null : OomKillsIn(Version!, OwnMemoryDir);

    /// <summary>Makes a group for one child with <paramref name="limits"/> written.</summary>
    /// <exception cref="InvalidOperationException">The limits cannot be set here (the message says why).</exception>
    public WorkloadCgroup Create(ResourceLimits limits)
    {
        if (limits.MemoryBytes is not null && !CanLimitMemory || limits.PidsMax is not null && !CanLimitPids)
        {
            throw new InvalidOperationException(Reason ?? "this host has no writable cgroup controller for these limits");
        }

        var id = "w" + Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture);
        return WorkloadCgroup.Make(this, id, limits);
    }

    /// <summary>Removes the agent's workload directory and every empty group left in it (at shutdown and at start).</summary>
    public void RemoveWorkDirs()
    {
        foreach (var dir in new[] { WorkMemoryDir, WorkPidsDir }.Distinct())
        {
            if (dir is null)
            {
                continue;
            }

            foreach (var child in SafeDirectories(dir))
            {
                TryRmdir(child);
            }

            TryRmdir(dir);
        }
    }

    internal static long? OomKillsIn(string version, string dir)
    {
        // v1: memory.oom_control has "oom_kill N" (kernel 4.13+); v2: memory.events has "oom_kill N".
        var text = ReadOrEmpty(Path.Combine(dir, version == "v1" ? "memory.oom_control" : "memory.events"));
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("oom_kill ", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return count;
            }
        }

        return null;
    }

    internal static bool TryRmdir(string dir)
    {
        try
        {
            Directory.Delete(dir); // rmdir(2): a cgroup directory is empty to rmdir when no task is left in it
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string[] SafeDirectories(string dir)
    {
        try
        {
            return Directory.GetDirectories(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The directory of the agent's own cgroup in the v1 hierarchy that has <paramref name="controller"/>.</summary>
    private static string? ResolveV1(string[] mounts, string[] own, string controller)
    {
        foreach (var line in own)
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3 && parts[1].Split(',').Contains(controller))
            {
                foreach (var mount in mounts)
                {
                    if (ParseMount(mount) is { FsType: "cgroup" } m && m.SuperOptions.Split(',').Contains(controller))
                    {
                        return Join(m.Root, m.MountPoint, parts[2]);
                    }
                }
            }
        }

        return null;
    }

    private static string? ResolveV2(string[] mounts, string[] own)
    {
        var path = own.FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        if (path is null)
        {
            return null;
        }

        foreach (var mount in mounts)
        {
            if (ParseMount(mount) is { FsType: "cgroup2" } m)
            {
                return Join(m.Root, m.MountPoint, path);
            }
        }

        return null;
    }

    /// <summary>The cgroup <paramref name="path"/> of /proc/self/cgroup as a directory under the mount point (a
    /// container's mount has the container's own group as its root).</summary>
    private static string? Join(string root, string mountPoint, string path)
    {
        var relative = path.StartsWith(root, StringComparison.Ordinal) ? path[root.Length..] : path;
        var dir = Path.Join(mountPoint, relative.TrimStart('/'));
        return Directory.Exists(dir) ? dir.TrimEnd('/') : null;
    }

    private static (string Root, string MountPoint, string FsType, string SuperOptions)? ParseMount(string line)
    {
        // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
        var dash = line.IndexOf(" - ", StringComparison.Ordinal);
        if (dash < 0)
        {
            return null;
        }

        var head = line[..dash].Split(' ');
        var tail = line[(dash + 3)..].Split(' ');
        return head.Length >= 5 && tail.Length >= 3 ? (Unescape(head[3]), Unescape(head[4]), tail[0], tail[2]) : null;
    }

    private static string Unescape(string field) => field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
        .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    private static string? MakeWorkDir(string parent, string name, out string? problem)
    {
        var dir = Path.Combine(parent, name);
        try
        {
            SweepStale(parent);
            Directory.CreateDirectory(dir);
            problem = null;
            return dir;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
            return null;
        }
    }

    /// <summary>Groups left by an agent that was killed: empty ones go (rmdir of a group with tasks fails, and stays).</summary>
    private static void SweepStale(string parent)
    {
        foreach (var dir in SafeDirectories(parent))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith("sandboxd.", StringComparison.Ordinal)
                && int.TryParse(name.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && !Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture)))
            {
                foreach (var child in SafeDirectories(dir))
                {
                    TryRmdir(child);
                }

                TryRmdir(dir);
            }
        }
    }

    /// <summary>
    /// cgroup v2 allows controllers for child groups only in a group without processes (the root excepted): the agent
    /// moves itself into <c>&lt;own&gt;/sandboxd.agent</c>, enables memory and pids for its own group's children and
    /// makes <c>&lt;own&gt;/&lt;name&gt;</c> for the workload, as a delegated systemd unit or a container's init does.
    /// </summary>
    private static string? PrepareV2(string own, string name, out string? problem)
    {
        try
        {
            var procs = ReadOrEmpty(Path.Combine(own, "cgroup.procs")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            if (procs.Length > 0 && own != "/sys/fs/cgroup")
            {
                if (procs.Any(p => p != self))
                {
                    problem = "the agent's cgroup has other processes, so it cannot hand controllers to child groups (run the agent in a cgroup of its own, e.g. a systemd unit with Delegate=yes)";
                    return null;
                }

                var agentDir = Path.Combine(own, "sandboxd.agent");
                Directory.CreateDirectory(agentDir);
                File.WriteAllText(Path.Combine(agentDir, "cgroup.procs"), self);
            }

            SweepStale(own);
            File.WriteAllText(Path.Combine(own, "cgroup.subtree_control"), "+memory +pids");
            var work = Path.Combine(own, name);
            Directory.CreateDirectory(work);
            File.WriteAllText(Path.Combine(work, "cgroup.subtree_control"), "+memory +pids");
            problem = null;
            return work;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
            return null;
        }
    }
}

/// <summary>
/// The group of one child. On cgroup v1 the spawning thread itself is moved into the group for the length of
/// posix_spawn (v1 moves single threads through <c>tasks</c>), so the child is created inside it and the limits hold
/// from its first instruction; on v2 (which moves whole processes) the child is moved right after posix_spawn returns.
/// </summary>
internal sealed unsafe class WorkloadCgroup : IDisposable
{
    private readonly CgroupHost _host;
    private readonly List<string> _dirs = [];
    private readonly int? _pidsMax;
    private string? _pidsDir;
    private int _enterMemory = -1;
    private int _enterPids = -1;
    private int _leaveMemory = -1;
    private int _leavePids = -1;
    private byte[] _tid = [];
    private bool _disposed;

    private WorkloadCgroup(CgroupHost host, int? pidsMax)
    {
        _host = host;
        _pidsMax = pidsMax;
    }

    /// <summary>The memory group's directory (for its OOM-kill counter), when memory is limited.</summary>
    public string? MemoryDir { get; private set; }

    internal static WorkloadCgroup Make(CgroupHost host, string id, ResourceLimits limits)
    {
        var group = new WorkloadCgroup(host, limits.PidsMax);
        try
        {
            if (host.Version == "v1")
            {
                if (limits.MemoryBytes is { } memory)
                {
                    group.MemoryDir = group.MakeDir(host.WorkMemoryDir!, id);
                    var bytes = memory.ToString(CultureInfo.InvariantCulture);
                    File.WriteAllText(Path.Combine(group.MemoryDir, "memory.limit_in_bytes"), bytes);
                    var memsw = Path.Combine(group.MemoryDir, "memory.memsw.limit_in_bytes");
                    if (File.Exists(memsw))
                    {
                        File.WriteAllText(memsw, bytes); // no swap beyond the limit
                    }
                }

                if (limits.PidsMax is { } pids)
                {
                    group._pidsDir = group.MakeDir(host.WorkPidsDir!, id);
                    // One more while the spawning thread is in the group with its child; the exact value after.
                    File.WriteAllText(Path.Combine(group._pidsDir, "pids.max"), (pids + 1).ToString(CultureInfo.InvariantCulture));
                }
            }
            else
            {
                var dir = group.MakeDir(host.WorkMemoryDir!, id);
                group.MemoryDir = dir;
                if (limits.MemoryBytes is { } memory)
                {
                    File.WriteAllText(Path.Combine(dir, "memory.max"), memory.ToString(CultureInfo.InvariantCulture));
                    var swap = Path.Combine(dir, "memory.swap.max");
                    if (File.Exists(swap))
                    {
                        File.WriteAllText(swap, "0");
                    }
                }

                if (limits.PidsMax is { } pids)
                {
                    File.WriteAllText(Path.Combine(dir, "pids.max"), pids.ToString(CultureInfo.InvariantCulture));
                }
            }

            return group;
        }
        catch
        {
            group.Dispose();
            throw;
        }
    }

    /// <summary>Opens the files the thread moves go through, before the spawn lock (nothing allocates in between).</summary>
    public void Prepare()
    {
        if (_host.Version != "v1")
        {
            return;
        }

        _tid = Encoding.ASCII.GetBytes(LibC.GetTid().ToString(CultureInfo.InvariantCulture));
        if (MemoryDir is not null)
        {
            _enterMemory = OpenTasks(MemoryDir);
            _leaveMemory = OpenTasks(_host.OwnMemoryDir!);
        }

        if (_pidsDir is not null)
        {
            _enterPids = OpenTasks(_pidsDir);
            _leavePids = OpenTasks(_host.OwnPidsDir!);
        }
    }

    /// <summary>v1: moves the calling thread into the group (call right before posix_spawn). Allocation-free.</summary>
    public bool EnterThread() => WriteTid(_enterMemory) && WriteTid(_enterPids);

    /// <summary>v1: moves the calling thread back to the agent's own group (call right after posix_spawn).</summary>
    public void LeaveThread()
    {
        if (!WriteTid(_leaveMemory) || !WriteTid(_leavePids))
        {
            // A thread of the agent left in a workload's group would be charged to it and could be OOM-killed with it.
            Environment.FailFast($"sandboxd: cannot move a spawning thread back to the agent's cgroup (errno {LibC.LastErrno})");
        }
    }

    /// <summary>After the spawn: v2 moves the child in; v1 sets the exact pid limit. Closes the thread-move files.</summary>
    public void Started(int pid)
    {
        CloseFds();
        try
        {
            if (_host.Version == "v2" && MemoryDir is not null)
            {
                File.WriteAllText(Path.Combine(MemoryDir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
            }
            else if (_pidsMax is { } max && _pidsDir is not null)
            {
                File.WriteAllText(Path.Combine(_pidsDir, "pids.max"), max.ToString(CultureInfo.InvariantCulture));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A child that cannot be held to its limits does not run: it ends killed, which its exit reports.
            _ = LibC.Kill(pid, LibC.SIGKILL);
        }
    }

    /// <summary>OOM kills inside this group so far (0 without a memory group).</summary>
    public long OomKills() => MemoryDir is null ? 0 : CgroupHost.OomKillsIn(_host.Version!, MemoryDir) ?? 0;

    /// <summary>Removes the group's directories (empty once its processes are gone; a leftover is swept at shutdown).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CloseFds();
        foreach (var dir in _dirs)
        {
            CgroupHost.TryRmdir(dir);
        }
    }

    private string MakeDir(string parent, string id)
    {
        var dir = Path.Combine(parent, id);
        Directory.CreateDirectory(dir);
        _dirs.Add(dir);
        return dir;
    }

    private bool WriteTid(int fd)
    {
        if (fd < 0)
        {
            return true;
        }

        fixed (byte* tid = _tid)
        {
            return LibC.Write(fd, tid, _tid.Length) == _tid.Length;
        }
    }

    private static int OpenTasks(string dir)
    {
        var fd = LibC.Open(Path.Combine(dir, "tasks"), LibC.O_WRONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open {dir}/tasks: {new System.ComponentModel.Win32Exception(LibC.LastErrno).Message}");
        }

        return fd;
    }

    private void CloseFds()
    {
        Close(ref _enterMemory);
        Close(ref _enterPids);
        Close(ref _leaveMemory);
        Close(ref _leavePids);

        static void Close(ref int fd)
        {
            if (fd >= 0)
            {
                _ = LibC.Close(fd);
                fd = -1;
            }
        }
    }
}
