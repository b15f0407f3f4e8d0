using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Sandboxd.Native;

/// <summary>
/// The user commands, terminals and servers run as (<c>--run-as</c>), and whether the agent can switch to it. When the
/// agent runs as root with a run-as user, every child is started with that user's uid, gid and groups, and what the
/// API writes is given to that user (<see cref="Claim"/>); the agent's token, state and memory stay root's. Otherwise
/// the workload runs as the agent's own user and <see cref="Reason"/> says why.
/// </summary>
/// <remarks>
/// Process-wide, like the agent's own uid: set once at start-up (<see cref="Configure"/>) before anything is spawned
/// or written, never changed afterwards.
/// Children are started with per-thread credentials: Linux keeps uid, gid and groups per thread (glibc's setuid family
/// broadcasts to every thread, the raw system calls do not), and posix_spawn's clone copies the calling thread's. So
/// around one posix_spawn the spawning thread drops to the user (real and effective ids; the saved uid stays 0 so it
/// can come back) and returns to root right after. No allocation and no managed code runs in between, so the runtime
/// cannot start a thread with those credentials. See docs/adr/0007-run-as-user.md.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed unsafe class WorkloadUser
{
    private readonly uint[] _groups;
    private readonly uint[] _agentGroups;
    private readonly uint _ruid, _euid, _suid, _rgid, _egid, _sgid;

    /// <summary>The user children run as; null when they run as the agent's own user.</summary>
    public string? Name { get; }
    public uint Uid { get; }
    public uint Gid { get; }
    public string? Home { get; }
    public string? Shell { get; }

    /// <summary>Why the workload runs as the agent's own user (null when it runs as <see cref="Name"/>).</summary>
    public string? Reason { get; }

    /// <summary>True when children get another user's credentials (the agent is root and a run-as user is set).</summary>
    public bool Switches { get; }

    /// <summary>The current setting: the agent's own user until <see cref="Configure"/> ran.</summary>
    public static WorkloadUser Current { get; private set; } = new(null, "not configured");

    private WorkloadUser(string? name, string reason)
    {
        Name = name;
        Reason = reason;
        _groups = [];
        _agentGroups = [];
    }

    private WorkloadUser(string name, uint uid, uint gid, string home, string shell, uint[] groups, bool switches)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
        Home = home;
        Shell = shell;
        _groups = groups;
        Switches = switches;
        uint r, e, s;
        _ = LibC.GetResUid(&r, &e, &s);
        (_ruid, _euid, _suid) = (r, e, s);
        _ = LibC.GetResGid(&r, &e, &s);
        (_rgid, _egid, _sgid) = (r, e, s);
        _agentGroups = AgentGroups();
    }

    /// <summary>
    /// Sets <see cref="Current"/> from <c>--run-as</c> (a user name or a numeric uid; null = none given). Throws
    /// <see cref="ArgumentException"/> for a user that does not exist. As root without a run-as user, or as another
    /// user that cannot switch, the workload runs as the agent's user and <see cref="Reason"/> says so.
    /// </summary>
    public static WorkloadUser Configure(string? requested)
    {
        var euid = LibC.GetEuid();
        if (string.IsNullOrEmpty(requested))
        {
            return Current = new WorkloadUser(null, euid == 0
                ? "no --run-as user: the workload runs as root, like the agent, and can read the agent's token"
                : $"the agent runs as uid {euid} (not root) and has no --run-as user: the workload runs as the agent's own user and can read its token");
        }

        var entry = Lookup(requested) ?? throw new ArgumentException($"--run-as {requested}: no such user");
        if (entry.Uid == 0)
        {
            throw new ArgumentException($"--run-as {requested}: the run-as user must not be root");
        }

        if (euid == entry.Uid)
        {
            return Current = new WorkloadUser(null, $"the agent itself runs as {entry.Name} (uid {euid}), the --run-as user: the workload can read the agent's token");
        }

        if (euid != 0)
        {
            return Current = new WorkloadUser(null, $"the agent runs as uid {euid}, not root, so it cannot switch to --run-as {entry.Name}: the workload runs as the agent's own user");
        }

        var created = new WorkloadUser(entry.Name, entry.Uid, entry.Gid, entry.Home, entry.Shell, GroupsOf(entry.Name, entry.Gid), switches: true);
        // Not dumpable: /proc/<agent>/{mem,environ,maps,fd} become root's and a workload cannot ptrace the agent, even
        // in the instant a spawning thread carries the user's ids.
        _ = LibC.Prctl(LibC.PR_SET_DUMPABLE, 0, 0, 0, 0);
        return Current = created;
    }

    /// <summary>Gives <paramref name="path"/> (not a symlink's target) to the run-as user; nothing when the agent does not switch.</summary>
    public void Claim(string path)
    {
        if (Switches && LibC.LChown(path, Uid, Gid) != 0)
        {
            throw new IOException($"cannot give {path} to {Name}: {Marshal.GetPInvokeErrorMessage(LibC.LastErrno)}");
        }
    }

    /// <summary><see cref="Directory.CreateDirectory(string)"/>, and every level it created is given to the run-as user.</summary>
    public void CreateDirectory(string path)
    {
        if (!Switches)
        {
            Directory.CreateDirectory(path);
            return;
        }

        var missing = new List<string>();
        for (var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)); dir is { Length: > 0 } && !Directory.Exists(dir) && !File.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            missing.Add(dir);
        }

        Directory.CreateDirectory(path);
        for (var i = missing.Count - 1; i >= 0; i--)
        {
            Claim(missing[i]);
        }
    }

    /// <summary>
    /// posix_spawnp with the run-as user's credentials on this thread for the length of the call (see the remarks of
    /// the type). Returns posix_spawn's error number. Allocation-free between the switch and the return to root.
    /// </summary>
    public int PosixSpawnAs(int* pid, byte* file, void* actions, void* attr, byte** argv, byte** envp)
    {
        if (!Switches)
        {
            return LibC.PosixSpawnP(pid, file, actions, attr, argv, envp);
        }

        var (setgroups, setresuid, setresgid) = Numbers;
        int rc;
        fixed (uint* groups = _groups)
        {
            if (LibC.Syscall3(setgroups, _groups.Length, (nint)groups, 0) != 0
                || LibC.Syscall3(setresgid, (nint)Gid, (nint)Gid, -1) != 0
                || LibC.Syscall3(setresuid, (nint)Uid, (nint)Uid, -1) != 0)
            {
                rc = LibC.LastErrno;
                RestoreOrDie(setgroups, setresuid, setresgid);
                return rc;
            }
        }

        rc = LibC.PosixSpawnP(pid, file, actions, attr, argv, envp);
        RestoreOrDie(setgroups, setresuid, setresgid);
        return rc;
    }

    private void RestoreOrDie(nint setgroups, nint setresuid, nint setresgid)
    {
        // The uid first: with the saved uid still 0 the thread may return to it, and root's capabilities come back.
        bool ok;
        fixed (uint* groups = _agentGroups)
        {
            ok = LibC.Syscall3(setresuid, (nint)_ruid, (nint)_euid, (nint)_suid) == 0
                && LibC.Syscall3(setresgid, (nint)_rgid, (nint)_egid, (nint)_sgid) == 0
                && LibC.Syscall3(setgroups, _agentGroups.Length, (nint)groups, 0) == 0;
        }

        if (!ok)
        {
            // A thread of the agent stuck with the workload's ids is worse than no agent: stop here.
            Environment.FailFast($"sandboxd: cannot return a spawning thread to the agent's credentials (errno {LibC.LastErrno})");
        }

        // A change of effective uid resets the dumpable flag to fs.suid_dumpable: set it again.
        _ = LibC.Prctl(LibC.PR_SET_DUMPABLE, 0, 0, 0, 0);
    }

    /// <summary>setgroups, setresuid, setresgid: the raw system calls (per thread), not glibc's wrappers (every thread).</summary>
    private static (nint SetGroups, nint SetResUid, nint SetResGid) Numbers => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => (116, 117, 119),
        Architecture.Arm64 => (159, 147, 149),
        var other => throw new PlatformNotSupportedException($"--run-as is not supported on {other}"),
    };

    private sealed record Entry(string Name, uint Uid, uint Gid, string Home, string Shell);

    private static Entry? Lookup(string requested)
    {
        var size = 16384;
        while (true)
        {
            var buffer = (byte*)NativeMemory.Alloc((nuint)size);
            try
            {
                LibC.Passwd entry;
                LibC.Passwd* result;
                var rc = uint.TryParse(requested, NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                    ? LibC.GetPwUidR(uid, &entry, buffer, (nuint)size, &result)
                    : LibC.GetPwNamR(requested, &entry, buffer, (nuint)size, &result);
                if (rc == LibC.ERANGE && size < 1 << 20)
                {
                    size *= 4;
                    continue;
                }

                if (rc != 0 || result is null)
                {
                    return null;
                }

                return new Entry(
                    Marshal.PtrToStringUTF8((nint)entry.Name) ?? requested, entry.Uid, entry.Gid,
                    Marshal.PtrToStringUTF8((nint)entry.Dir) is { Length: > 0 } home ? home : "/",
                    Marshal.PtrToStringUTF8((nint)entry.Shell) is { Length: > 0 } shell ? shell : "/bin/sh");
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
    }

    private static uint[] GroupsOf(string name, uint gid)
    {
        var count = 64;
        while (true)
        {
            var groups = new uint[count];
            var n = count;
            fixed (uint* p = groups)
            {
                if (LibC.GetGroupList(name, gid, p, &n) >= 0)
                {
                    return groups[..n];
                }
            }

            count = Math.Max(n, count * 2);
        }
    }

    private static uint[] AgentGroups()
    {
        var n = LibC.GetGroups(0, null);
        var groups = new uint[Math.Max(n, 0)];
        fixed (uint* p = groups)
        {
            n = LibC.GetGroups(groups.Length, p);
        }

        return n > 0 ? groups[..n] : [];
    }
}
