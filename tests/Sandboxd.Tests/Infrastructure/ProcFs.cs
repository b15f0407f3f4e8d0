using System.Globalization;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>One row of /proc/PID/stat.</summary>
public readonly record struct ProcStat(int Pid, string Command, char State, int ParentPid, int ProcessGroup);

/// <summary>Reads the real process table, so tests check what the kernel says rather than what the agent reports.</summary>
public static class ProcFs
{
    public static bool TryRead(int pid, out ProcStat stat)
    {
        stat = default;
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }

        // "pid (comm) S ppid pgrp ..." — comm may contain spaces and parentheses, so split after the last ')'.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return false;
        }

        var rest = text[(close + 2)..].Split(' ');
        stat = new ProcStat(
            pid,
            text[(open + 1)..close],
            rest[0][0],
            int.Parse(rest[1], CultureInfo.InvariantCulture),
            int.Parse(rest[2], CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>True while the process exists and is not a zombie (a zombie has already died).</summary>
    public static bool IsAlive(int pid) => TryRead(pid, out var stat) && stat.State is not ('Z' or 'X');

    /// <summary>True while the kernel still has an entry for the pid (alive or an unreaped zombie).</summary>
    public static bool Exists(int pid) => Directory.Exists($"/proc/{pid}");

    public static IReadOnlyList<ProcStat> All()
    {
        var list = new List<ProcStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && TryRead(pid, out var stat))
            {
                list.Add(stat);
            }
        }

        return list;
    }

    public static IReadOnlyList<ProcStat> ZombieChildrenOf(int parent) =>
        All().Where(p => p.ParentPid == parent && p.State == 'Z').ToList();

    /// <summary>Parses whitespace-separated pids printed by a test command.</summary>
    public static IReadOnlyList<int> ParsePids(string text) =>
        text.Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries)
            .Select(t => int.Parse(t, CultureInfo.InvariantCulture))
            .ToList();
}
