using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>
/// Remembers, in the state directory, every process the agent starts or adopts (pid and start time), so that the next
/// agent on this state directory can stop what a killed one left behind. Each child leads its own session, so a
/// recorded pid names a whole session: the commands, terminals and servers and whatever they started, and an
/// adopted <c>setsid -f</c> escapee names its own.
/// </summary>
/// <remarks>
/// A line is appended per child, with no fsync: only a killed agent leaves children running, and then the page cache
/// still holds the line; a machine that crashes leaves no children to stop. The file is compacted to the live entries
/// every <see cref="CompactEvery"/> lines. See docs/adr/0006-children-of-a-killed-agent.md.
/// </remarks>
internal sealed class ChildLedger(IOptions<ProcessesOptions> options, ILogger<ChildLedger> logger) : IDisposable
{
    private const int CompactEvery = 1024;

    /// <summary>The environment variable every child of the agent carries: this run's mark (see <see cref="MarkVariable"/>).</summary>
    public const string MarkName = "SANDBOXD_RUN";

    /// <summary>A random mark of this agent run, written as the ledger's first line (<c>mark HEX</c>) and given to every
    /// child as <c>SANDBOXD_RUN=HEX</c>. The ledger's pid lines are written just after each spawn, so a kill -9 between
    /// the spawn and that write would leave a child unrecorded; the mark in its environment (inherited by what it starts)
    /// still names it to the next agent.</summary>
    public string Mark { get; } = Convert.ToHexStringLower(LibC.RandomBytes(12)); // getrandom(2): no OpenSSL (ADR 0002)

    /// <summary>The clock of <see cref="StopPreviousRunAsync"/>'s grace period.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary><c>SANDBOXD_RUN=mark</c>.</summary>
    public string MarkVariable => MarkName + "=" + Mark;
    private readonly string? _path = options.Value.LedgerPath;
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private FileStream? _file;
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private readonly HashSet<(int Pid, string Started)> _recorded = [];

    /// <summary>
    /// Stops every session a previous agent on this state directory recorded and left running (SIGTERM, a short grace,
    /// then SIGKILL), then starts a fresh ledger. Returns how many processes were stopped.
    /// </summary>
    public async Task<int> StopPreviousRunAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        if (_path is null)
        {
            return 0;
        }

        var sessions = new HashSet<int>();
        var (entries, marks) = Read(_path);
        foreach (var process in ProcessTable.Snapshot())
        {
            // A child recorded too late (the agent died between its spawn and the ledger line) or never (a descendant
            // that left its session before the adoption tick): the previous run's mark in its environment names it.
            if (process.State != 'Z' && process.Pid != ProcessTable.SelfPid && marks.Count > 0 && CarriesMark(process.Pid, marks))
            {
                sessions.Add(process.Session);
                sessions.Add(process.Pid);
            }
        }

        foreach (var (pid, started) in entries)
        {
            // A recorded leader alive with another start time is a reused pid: its session is not ours. A leader that
            // is gone leaves its session id unusable for new pids while any member lives, so members are still ours.
            if (ProcessTable.StartTime(pid) is { } now && now != started)
            {
                continue;
            }

            sessions.Add(pid);
        }

        var stopped = 0;
        if (sessions.Count > 0)
        {
            var members = Members(sessions);
            stopped = members.Count;
            foreach (var member in members)
            {
                ProcessTable.SignalProcess(member.Pid, LibC.SIGTERM);
            }

            var started = Time.GetTimestamp();
            while (Members(sessions).Count > 0 && Time.GetElapsedTime(started) < grace)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), Time, cancellationToken).ConfigureAwait(false);
            }

            foreach (var member in Members(sessions))
            {
                ProcessTable.SignalProcess(member.Pid, LibC.SIGKILL);
            }

            if (stopped > 0)
            {
                logger.StoppedLeftovers(stopped, _path);
            }
        }

        lock (_gate)
        {
            Reopen([]);
        }

        return stopped;
    }

    /// <summary>Live processes (zombies aside) recorded, or in a recorded session or group; never the agent itself.</summary>
    private static List<ProcStat> Members(HashSet<int> sessions) =>
        [.. ProcessTable.Snapshot().Where(p => p.State != 'Z' && p.Pid != ProcessTable.SelfPid && (sessions.Contains(p.Pid) || sessions.Contains(p.Session) || sessions.Contains(p.ProcessGroup)))];

    /// <summary>Records a child the agent just spawned or adopted. Never throws: a ledger that cannot be written is logged.</summary>
    public void Record(int pid)
    {
        if (_path is null || ProcessTable.StartTime(pid) is not { } started)
        {
            return;
        }

        lock (_gate)
        {
            if (!_recorded.Add((pid, started)))
            {
                return;
            }

            try
            {
                if (_recorded.Count % CompactEvery == 0)
                {
                    _recorded.RemoveWhere(e => ProcessTable.StartTime(e.Pid) != e.Started);
                    Reopen(_recorded);
                    return;
                }

                _file ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
                _file.Write(Encoding.ASCII.GetBytes(Line(pid, started)));
            }
            catch (IOException e)
            {
                logger.LedgerFailed(e, _path);
            }
        }
    }

    private static string Line(int pid, string started) => pid.ToString(CultureInfo.InvariantCulture) + " " + started + "\n";

    /// <summary>Rewrites the ledger with <paramref name="entries"/> (temp file + rename) and keeps it open for appends.</summary>
    private void Reopen(IEnumerable<(int Pid, string Started)> entries)
    {
        _file?.Dispose();
        _file = null;
        var temp = Path.Combine(Path.GetDirectoryName(_path)!, "." + Path.GetFileName(_path) + ".sandboxd-" + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            File.WriteAllText(temp, "mark " + Mark + "\n" + string.Concat(entries.Select(e => Line(e.Pid, e.Started))));
            File.Move(temp, _path!, overwrite: true);
            _file = new FileStream(_path!, FileMode.Append, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        }
        catch (IOException e)
        {
            logger.LedgerFailed(e, _path!);
        }
    }

    /// <summary>The ledger's pid lines and its marks (<c>mark HEX</c>: one per run that wrote to it).</summary>
    private static (List<(int Pid, string Started)> Entries, List<string> Marks) Read(string path)
    {
        var entries = new List<(int, string)>();
        var marks = new List<string>();
        try
        {
            foreach (var line in File.ReadAllLines(path))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && parts[0] == "mark" && parts[1].Length > 0 && parts[1].All(char.IsAsciiHexDigitLower))
                {
                    marks.Add(parts[1]);
                }
                else if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1)
                {
                    entries.Add((pid, parts[1]));
                }
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // first run on this state directory
        }

        return (entries, marks);
    }

    /// <summary>Whether <c>/proc/&lt;pid&gt;/environ</c> holds <c>SANDBOXD_RUN=</c> one of <paramref name="marks"/>
    /// (false when it cannot be read: gone, or another user's and the agent is not root).</summary>
    private static bool CarriesMark(int pid, List<string> marks)
    {
        byte[] environ;
        try
        {
            environ = File.ReadAllBytes($"/proc/{pid}/environ");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        foreach (var mark in marks)
        {
            var needle = Encoding.ASCII.GetBytes(MarkName + "=" + mark + "\0");
            var at = environ.AsSpan().IndexOf(needle);
            if (at == 0 || (at > 0 && environ[at - 1] == 0))
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }
}
