using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using Sandboxd.Native;
using Sandboxd.Telemetry;

namespace Sandboxd.Processes;

/// <summary>
/// The one way the agent starts anything: commands, code, PTY shells, servers and install steps all come through
/// <see cref="Spawn"/> and get a <see cref="ChildProcess"/>. Keeps the live set so shutdown can stop them all.
/// </summary>
internal sealed class Spawner(EpollLoop loop, ProcessTable table, ChildLedger ledger, CgroupHost cgroups, IOptions<ProcessesOptions> options, ILogger<Spawner> logger)
{
    private readonly ConcurrentDictionary<int, ChildProcess> _live = new();
    private readonly Lock _oomGate = new();
    private long? _ownOomKills = cgroups.OwnOomKills();

    public ProcessesOptions Options { get; } = options.Value;

    /// <summary>Starts <paramref name="spec"/>; output goes to <paramref name="output"/> (and stderr to <paramref name="error"/>, else merged).</summary>
    /// <exception cref="SpawnException">The program or the working directory could not be used.</exception>
    /// <exception cref="InvalidOperationException">Limits were asked for and this host cannot set them.</exception>
    public ChildProcess Spawn(ProcessSpec spec, OutputLog output, OutputLog? error)
    {
        var cgroup = spec.Limits is { Any: true } limits ? cgroups.Create(limits) : null;
        try
        {
            return SpawnIn(spec, output, error, cgroup);
        }
        catch
        {
            cgroup?.Dispose();
            throw;
        }
    }

    private ChildProcess SpawnIn(ProcessSpec spec, OutputLog output, OutputLog? error, WorkloadCgroup? cgroup)
    {
        var env = new List<string>(spec.Environment.Count + 1);
        foreach (var (key, value) in spec.Environment)
        {
            if (key != ChildLedger.MarkName)
            {
                env.Add(key + "=" + value);
            }
        }

        // Every child carries this run's mark (and its descendants inherit it): a child the agent was killed before it
        // could record is still found and stopped by the next agent (ADR 0006).
        env.Add(ledger.MarkVariable);

        var request = new NativeSpawnRequest(spec.Argv[0], spec.Argv, env, spec.WorkingDirectory, spec.Stdin, spec.PtySize, cgroup);
        // The exit may be delivered on the I/O thread before Spawn returns, so it lands in a TCS made up front.
        var exited = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        var kind = spec.Owner?.Kind ?? "other";
        // The exit and the registration below can race: whichever comes second leaves the live set right (an entry for
        // a child that already ended would stay in it for good).
        var registration = new Lock();
        var ended = false;
        var native = NativeProcess.Spawn(loop, table, request, output, error, (p, status) =>
        {
            lock (registration)
            {
                ended = true;
                _live.TryRemove(p.Pid, out _);
            }

            var exit = ExitStatus.FromWaitStatus(status);
            exit = exit with { OomKilled = WasOomKilled(exit, cgroup) };
            cgroup?.Dispose();
            AgentMeter.ProcessesExited.Add(1, new("kind", kind), new("reason", exit.OomKilled ? "oom" : exit.Signal is null ? (exit.ExitCode == 0 ? "success" : "failure") : "signal"));
            exited.TrySetResult(exit);
        });
        AgentMeter.ProcessesStarted.Add(1, new KeyValuePair<string, object?>("kind", kind));
        var created = new ChildProcess(native, table, output, error, exited)
        {
            StopEarly = spec.StopEarly,
            StopSignal = spec.PtySize is null ? LibC.SIGTERM : LibC.SIGHUP,
            Owner = spec.Owner,
        };
        lock (registration)
        {
            if (!ended)
            {
                _live[native.Pid] = created;
            }
        }

        ledger.Record(native.Pid);
        logger.Spawned(native.Pid, spec.Argv[0]);
        return created;
    }

    /// <summary>
    /// Whether the OOM killer ended the child: its own group counted a kill, or — without a group of its own — it died
    /// of SIGKILL (or a shell reported that, 137) and the agent's own memory cgroup counted a kill it has not yet
    /// given to another child. Read only for such exits, so a clean exit costs no file read.
    /// </summary>
    private bool WasOomKilled(ExitStatus exit, WorkloadCgroup? cgroup)
    {
        if (cgroup?.MemoryDir is not null)
        {
            return cgroup.OomKills() > 0;
        }

        if (!exit.LooksKilled || _ownOomKills is null)
        {
            return false;
        }

        lock (_oomGate)
        {
            var now = cgroups.OwnOomKills();
            if (now is { } count && count > _ownOomKills)
            {
                _ownOomKills = count;
                return true;
            }

            return false;
        }
    }

    /// <summary>What this host can limit, for <c>/info</c> and for checking requests before anything starts.</summary>
    public CgroupHost Cgroups => cgroups;

    /// <summary>A child for a spawn that failed: exits at once with 127 (or 126) and the reason on its error stream.</summary>
    public static ExitStatus SpawnFailure(SpawnException e, OutputLog error)
    {
        error.Append(Encoding.UTF8.GetBytes($"sandboxd: {e.Message}\n"));
        return new ExitStatus(e.Errno == LibC.ENOENT ? 127 : 126, null);
    }

    public IReadOnlyCollection<ChildProcess> Live => (IReadOnlyCollection<ChildProcess>)_live.Values;

    public int ReapOrphans() => table.ReapOrphans();

    /// <summary>Records orphans the agent adopted (a <c>setsid -f</c> escapee), so a crash of the agent does not leave them running.</summary>
    public void RecordAdopted()
    {
        foreach (var pid in table.AdoptedChildren())
        {
            ledger.Record(pid);
        }
    }
}
