using System.Globalization;
using Sandboxd.Processes;
using Sandboxd.Protocol;

namespace Sandboxd.ProcessList;

/// <summary>Reads one process's row of the list from /proc/&lt;pid&gt;/{stat,status,cmdline}.</summary>
internal static class ProcInfo
{
    private const double TicksPerSecond = 100; // USER_HZ: 100 on every Linux ABI the agent runs on
    private static readonly long PageSize = Environment.SystemPageSize;
    private static readonly Lazy<DateTime> BootTime = new(ReadBootTime);
    private static readonly Lazy<Dictionary<int, string>> Users = new(ReadUsers);

    public readonly record struct Stat(char State, int ParentPid, int ProcessGroup, long UserTicks, long SystemTicks, long StartTicks, long RssPages, string Name);

    public static bool TryReadStat(int pid, out Stat stat)
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

        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return false;
        }

        var f = text[(close + 2)..].Split(' ');
        // f[0] = state (field 3), f[1] = ppid, f[2] = pgrp, f[11] = utime (14), f[12] = stime, f[19] = starttime (22), f[21] = rss (24)
        if (f.Length < 22)
        {
            return false;
        }

        stat = new Stat(f[0][0], Int(f[1]), Int(f[2]), Long(f[11]), Long(f[12]), Long(f[19]), Long(f[21]), text[(open + 1)..close]);
        return true;
    }

    public static bool TryRead(int pid, ProcessOwner? owner, out ProcessEntry entry)
    {
        entry = null!;
        if (!TryReadStat(pid, out var stat))
        {
            return false;
        }

        var uid = ReadUid(pid);
        entry = new ProcessEntry(
            pid, stat.ParentPid, stat.ProcessGroup, ReadCmdline(pid), stat.Name, uid,
            Users.Value.TryGetValue(uid, out var user) ? user : uid.ToString(CultureInfo.InvariantCulture),
            StateName(stat.State), stat.RssPages * PageSize, Math.Round((stat.UserTicks + stat.SystemTicks) / TicksPerSecond, 2),
            BootTime.Value.AddSeconds(stat.StartTicks / TicksPerSecond), owner?.Sandbox, owner?.Kind, owner?.Id);
        return true;
    }

    private static string StateName(char state) => state switch
    {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk-sleep",
        'Z' => "zombie",
        'T' => "stopped",
        't' => "tracing-stop",
        'I' => "idle",
        'X' => "dead",
        _ => state.ToString(),
    };

    private static List<string> ReadCmdline(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/cmdline");
            return [.. text.TrimEnd('\0').Split('\0')];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static int ReadUid(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    return Int(line[4..].Trim().Split('\t', ' ')[0]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone meanwhile
        }

        return -1;
    }

    private static DateTime ReadBootTime()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/stat"))
            {
                if (line.StartsWith("btime ", StringComparison.Ordinal))
                {
                    return DateTime.UnixEpoch.AddSeconds(Long(line[6..].Trim()));
                }
            }
        }
        catch (IOException)
        {
            // no /proc/stat
        }

        return DateTime.UnixEpoch;
    }

    private static Dictionary<int, string> ReadUsers()
    {
        var users = new Dictionary<int, string>();
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var parts = line.Split(':');
                if (parts.Length > 2 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                {
                    users.TryAdd(uid, parts[0]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // no passwd: numeric users
        }

        return users;
    }

    private static int Int(string s) => int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;

    private static long Long(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;
}
