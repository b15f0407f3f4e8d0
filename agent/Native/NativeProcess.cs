using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace Sandboxd.Native;

/// <summary>What a spawned child reads on fd 0.</summary>
internal enum StdinKind { Null, Pipe }

/// <summary>Everything posix_spawn needs. <see cref="PtySize"/> set ⇒ fds 0-2 are a new PTY slave.</summary>
internal sealed record NativeSpawnRequest(
    string File,
    IReadOnlyList<string> Argv,
    IReadOnlyList<string> Environment,
    string WorkingDirectory,
    StdinKind Stdin,
    (int Cols, int Rows)? PtySize,
    WorkloadCgroup? Cgroup = null);

/// <summary>
/// A child started with posix_spawn in a new session (pgid = sid = pid). Owns its pipe or PTY master descriptors and
/// its pidfd; all of them are watched by the shared <see cref="EpollLoop"/>. Never forks from managed code.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class NativeProcess
{
    private readonly EpollLoop _loop;
    private readonly int _outFd;      // stdout pipe read end, or the PTY master (read side)
    private readonly int _errFd;      // stderr pipe read end, or -1
    private ulong _outKey;
    private ulong _errKey;
    private int _inFd;                // stdin pipe write end, or the PTY master (dup'ed for writing), or -1
    private readonly Lock _inGate = new();

    public int Pid { get; }
    public bool IsPty { get; }

    private NativeProcess(EpollLoop loop, int pid, int outFd, int errFd, int inFd, bool isPty)
    {
        _loop = loop;
        Pid = pid;
        _outFd = outFd;
        _errFd = errFd;
        _inFd = inFd;
        IsPty = isPty;
    }

    /// <summary>
    /// Spawns the child. <paramref name="onExit"/> runs on the I/O thread after the child is reaped and its
    /// output drained; it receives the raw wait status (-1 if unknown).
    /// </summary>
    /// <exception cref="SpawnException">posix_spawn itself failed (program missing, not executable, bad cwd).</exception>
    public static NativeProcess Spawn(
        EpollLoop loop, ProcessTable table, NativeSpawnRequest request, IFdReader stdout, IFdReader? stderr, Action<NativeProcess, int> onExit)
    {
        var fds = stackalloc int[2];
        int outRead = -1, outWrite = -1, errRead = -1, errWrite = -1, inRead = -1, inWrite = -1, master = -1, masterWrite = -1;
        string? slavePath = null;
        var ok = false;
        try
        {
            if (request.PtySize is { } size)
            {
                master = LibC.ThrowIfFailed(LibC.PosixOpenPt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC), "posix_openpt");
                LibC.ThrowIfFailed(LibC.GrantPt(master), "grantpt");
                LibC.ThrowIfFailed(LibC.UnlockPt(master), "unlockpt");
                var name = stackalloc byte[128];
                var rc = LibC.PtsNameR(master, name, 128);
                if (rc != 0)
                {
                    throw new System.ComponentModel.Win32Exception(rc, "ptsname_r failed");
                }

                slavePath = Marshal.PtrToStringUTF8((nint)name)!;
                WorkloadUser.Current.Claim(slavePath); // the shell (and tty, mesg, ssh) may reopen its terminal by name
                SetSize(master, size.Cols, size.Rows);
                masterWrite = LibC.ThrowIfFailed(LibC.Fcntl(master, 1030 /* F_DUPFD_CLOEXEC */, 0), "fcntl(F_DUPFD_CLOEXEC)");
                SetNonBlocking(master);
            }
            else
            {
                LibC.ThrowIfFailed(LibC.Pipe2(fds, LibC.O_CLOEXEC), "pipe2");
                (outRead, outWrite) = (fds[0], fds[1]);
                if (stderr is not null)
                {
                    LibC.ThrowIfFailed(LibC.Pipe2(fds, LibC.O_CLOEXEC), "pipe2");
                    (errRead, errWrite) = (fds[0], fds[1]);
                }

                if (request.Stdin == StdinKind.Pipe)
                {
                    LibC.ThrowIfFailed(LibC.Pipe2(fds, LibC.O_CLOEXEC), "pipe2");
                    (inRead, inWrite) = (fds[0], fds[1]);
                }

                SetNonBlocking(outRead);
                if (errRead >= 0)
                {
                    SetNonBlocking(errRead);
                }
            }

            // Spawns overlap (each posix_spawn waits for its child's exec, so one at a time left the other core idle);
            // one that moves its thread into a cgroup (v1) runs alone (ADR 0018).
            var exclusive = request.Cgroup is not null;
            var pid = -1;
            table.BeginSpawn(exclusive);
            try
            {
                // The thread that spawns is the one moved into the child's cgroup (v1), so the files are opened here.
                request.Cgroup?.Prepare();
                OomScore.BeginSpawn();
                try
                {
                    pid = SpawnCore(request, slavePath, inRead, outWrite, errWrite);
                }
                finally
                {
                    OomScore.EndSpawn();
                }
            }
            finally
            {
                table.EndSpawn(exclusive, pid);
            }

            request.Cgroup?.Started(pid);

            var process = request.PtySize is not null
                ? new NativeProcess(loop, pid, master, -1, masterWrite, isPty: true)
                : new NativeProcess(loop, pid, outRead, errRead, inWrite, isPty: false);
            ok = true;

            // The parent's copies of the child's ends must go now, or EOF never comes.
            CloseIfOpen(ref outWrite);
            CloseIfOpen(ref errWrite);
            CloseIfOpen(ref inRead);

            process._outKey = loop.AddReader(process._outFd, stdout);
            if (process._errFd >= 0)
            {
                process._errKey = loop.AddReader(process._errFd, stderr!);
            }

            table.Watch(pid, status =>
            {
                // Runs on the I/O thread: the leader is gone, so read what it left in the pipes and stop reading.
                loop.DrainAndClose(process._outKey);
                if (process._errFd >= 0)
                {
                    loop.DrainAndClose(process._errKey);
                }

                process.CloseInput();
                onExit(process, status);
            });
            return process;
        }
        finally
        {
            if (!ok)
            {
                CloseIfOpen(ref outRead);
                CloseIfOpen(ref errRead);
                CloseIfOpen(ref inWrite);
                CloseIfOpen(ref master);
                CloseIfOpen(ref masterWrite);
            }

            CloseIfOpen(ref outWrite);
            CloseIfOpen(ref errWrite);
            CloseIfOpen(ref inRead);
        }
    }

    private static bool s_noCloseFrom;

    /// <summary>
    /// Only 0, 1 and 2 reach the child: descriptors someone opened without O_CLOEXEC (the runtime has a few, e.g. a
    /// pipe and /dev/null) must not leak into every command, terminal and server. Without glibc 2.34's
    /// closefrom action the child gets what CLOEXEC leaves, as before.
    /// </summary>
    private static void AddCloseFrom3(void* actions)
    {
        if (s_noCloseFrom)
        {
            return;
        }

        try
        {
            if (LibC.FileActionsAddCloseFrom(actions, 3) != 0)
            {
                s_noCloseFrom = true;
            }
        }
        catch (EntryPointNotFoundException)
        {
            s_noCloseFrom = true;
        }
    }

    private static int SpawnCore(NativeSpawnRequest request, string? slavePath, int stdinFd, int stdoutFd, int stderrFd)
    {
        var attr = NativeMemory.AllocZeroed(LibC.SpawnAttrSize);
        var actions = NativeMemory.AllocZeroed(LibC.FileActionsSize);
        var sigset = NativeMemory.AllocZeroed(LibC.SigSetSize);
        var strings = new List<nint>();
        try
        {
            Check(LibC.SpawnAttrInit(attr), "SpawnAttrInit");
            Check(LibC.FileActionsInit(actions), "FileActionsInit");
            // New session: the child leads its own process group, so the whole tree can be signalled at once.
            // Default dispositions and an empty mask: the runtime ignores SIGPIPE and blocks some signals.
            Check(LibC.SpawnAttrSetFlags(attr, (short)(LibC.POSIX_SPAWN_SETSID | LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF)), "SpawnAttrSetFlags");
            Check(LibC.SigEmptySet(sigset), "SigEmptySet");
            Check(LibC.SpawnAttrSetSigMask(attr, sigset), "SpawnAttrSetSigMask");
            Check(LibC.SigFillSet(sigset), "SigFillSet");
            Check(LibC.SigDelSet(sigset, LibC.SIGKILL), "SigDelSet");
            Check(LibC.SigDelSet(sigset, 19 /* SIGSTOP */), "SigDelSet");
            Check(LibC.SpawnAttrSetSigDefault(attr, sigset), "SpawnAttrSetSigDefault");

            if (slavePath is not null)
            {
                // Opened after setsid and without O_NOCTTY, the slave becomes the controlling terminal.
                Check(LibC.FileActionsAddOpen(actions, 0, Utf8(slavePath, strings), LibC.O_RDWR, 0), "FileActionsAddOpen");
                Check(LibC.FileActionsAddDup2(actions, 0, 1), "FileActionsAddDup2");
                Check(LibC.FileActionsAddDup2(actions, 0, 2), "FileActionsAddDup2");
            }
            else
            {
                if (stdinFd >= 0)
                {
                    Check(LibC.FileActionsAddDup2(actions, stdinFd, 0), "FileActionsAddDup2");
                }
                else
                {
                    Check(LibC.FileActionsAddOpen(actions, 0, Utf8("/dev/null", strings), LibC.O_RDONLY, 0), "FileActionsAddOpen");
                }

                Check(LibC.FileActionsAddDup2(actions, stdoutFd, 1), "FileActionsAddDup2");
                Check(LibC.FileActionsAddDup2(actions, stderrFd >= 0 ? stderrFd : stdoutFd, 2), "FileActionsAddDup2");
            }

            AddCloseFrom3(actions);
            Check(LibC.FileActionsAddChdir(actions, Utf8(request.WorkingDirectory, strings)), "FileActionsAddChdir");

            var argv = (byte**)NativeMemory.AllocZeroed((nuint)(request.Argv.Count + 1), (nuint)sizeof(nint));
            strings.Add((nint)argv);
            for (var i = 0; i < request.Argv.Count; i++)
            {
                argv[i] = Utf8(request.Argv[i], strings);
            }

            var envp = (byte**)NativeMemory.AllocZeroed((nuint)(request.Environment.Count + 1), (nuint)sizeof(nint));
            strings.Add((nint)envp);
            for (var i = 0; i < request.Environment.Count; i++)
            {
                envp[i] = Utf8(request.Environment[i], strings);
            }

            int pid;
            var file = Utf8(request.File, strings);
            // As the run-as user when there is one: the file actions (chdir, the PTY slave) and the exec are done
            // with its rights, and the child starts with its ids.
            // In the child's cgroup (v1: this thread, for the length of the call), so it is created inside it.
            var cgroup = request.Cgroup;
            if (cgroup is not null && !cgroup.EnterThread())
            {
                var errno = LibC.LastErrno;
                cgroup.LeaveThread();
                throw new IOException($"cannot enter the workload's cgroup: {new System.ComponentModel.Win32Exception(errno).Message}");
            }

            var rc = WorkloadUser.Current.PosixSpawnAs(&pid, file, actions, attr, argv, envp);
            cgroup?.LeaveThread();
            if (rc != 0)
            {
                throw new SpawnException(rc, request.File, request.WorkingDirectory);
            }

            return pid;
        }
        finally
        {
            _ = LibC.FileActionsDestroy(actions);
            _ = LibC.SpawnAttrDestroy(attr);
            NativeMemory.Free(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(sigset);
            foreach (var p in strings)
            {
                NativeMemory.Free((void*)p);
            }
        }
    }

    /// <summary>posix_spawn* functions return an error number instead of setting errno.</summary>
    private static void Check(int rc, string operation)
    {
        if (rc != 0)
        {
            throw new System.ComponentModel.Win32Exception(rc, $"{operation} failed");
        }
    }

    private static byte* Utf8(string value, List<nint> owned)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("Arguments, environment and paths cannot contain NUL characters.");
        }

        var count = Encoding.UTF8.GetByteCount(value);
        var p = (byte*)NativeMemory.Alloc((nuint)count + 1);
        owned.Add((nint)p);
        fixed (char* c = value)
        {
            Encoding.UTF8.GetBytes(c, value.Length, p, count);
        }

        p[count] = 0;
        return p;
    }

    private static void SetNonBlocking(int fd)
    {
        var flags = LibC.ThrowIfFailed(LibC.Fcntl(fd, LibC.F_GETFL, 0), "fcntl(F_GETFL)");
        LibC.ThrowIfFailed(LibC.Fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK), "fcntl(F_SETFL)");
    }

    private static void CloseIfOpen(ref int fd)
    {
        if (fd >= 0)
        {
            LibC.Close(fd);
            fd = -1;
        }
    }

    private static void SetSize(int fd, int cols, int rows)
    {
        var ws = new LibC.WinSize { Cols = (ushort)cols, Rows = (ushort)rows };
        LibC.ThrowIfFailed(LibC.Ioctl(fd, LibC.TIOCSWINSZ, &ws), "ioctl(TIOCSWINSZ)");
    }

    /// <summary>Sets the PTY size; the kernel sends SIGWINCH to the foreground process group.</summary>
    public void Resize(int cols, int rows)
    {
        lock (_inGate)
        {
            if (IsPty && _inFd >= 0)
            {
                SetSize(_inFd, cols, rows);
            }
        }
    }

    /// <summary>What a non-blocking write achieved.</summary>
    internal enum WriteStatus { Done, WouldBlock, Closed }

    /// <summary>Writes as much of <paramref name="data"/> as the kernel takes now, never blocking.</summary>
    public WriteStatus TryWrite(ReadOnlySpan<byte> data, out int written)
    {
        written = 0;
        lock (_inGate)
        {
            if (_inFd < 0)
            {
                return WriteStatus.Closed;
            }

            fixed (byte* p = data)
            {
                while (written < data.Length)
                {
                    var n = LibC.Write(_inFd, p + written, data.Length - written);
                    if (n >= 0)
                    {
                        written += (int)n;
                        continue;
                    }

                    var errno = LibC.LastErrno;
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    return errno == LibC.EAGAIN ? WriteStatus.WouldBlock : WriteStatus.Closed;
                }
            }

            return WriteStatus.Done;
        }
    }

    /// <summary>Closes the child's stdin (EOF for a pipe; for a PTY, the write side of the master).</summary>
    public void CloseInput()
    {
        lock (_inGate)
        {
            CloseIfOpen(ref _inFd);
        }
    }

    /// <summary>Stops reading output (pipes of a grandchild that outlives the leader, for example).</summary>
    public void CloseOutput()
    {
        _loop.Close(_outKey);
        if (_errFd >= 0)
        {
            _loop.Close(_errKey);
        }
    }
}

/// <summary>posix_spawn failed: the program or working directory could not be used.</summary>
internal sealed class SpawnException(int errno, string file, string cwd)
    : Exception($"cannot run {file}: {Marshal.GetPInvokeErrorMessage(errno)}")
{
    public int Errno { get; } = errno;
    public string File { get; } = file;
    public string WorkingDirectory { get; } = cwd;
}
