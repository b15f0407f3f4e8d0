using System.Globalization;

namespace Sandboxd.Gateway.Providers;

/// <summary>Reads <c>/proc/&lt;pid&gt;/stat</c>: whether a pid is still the process it was (start time) and its parent.</summary>
internal static class ProcessProbe
{
    /// <summary>Start time (field 22, clock ticks since boot) and parent pid, or null if there is no such live process.</summary>
    public static (long StartTicks, int ParentPid)? Read(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (fields[0] is "Z" or "X")
        {
            return null; // exited, not yet reaped
        }

        return (long.Parse(fields[19], CultureInfo.InvariantCulture), int.Parse(fields[1], CultureInfo.InvariantCulture));
    }

    /// <summary>True if <paramref name="pid"/> is alive and is the process that started at <paramref name="startTicks"/>.</summary>
    public static bool IsSame(int pid, long startTicks) => pid > 0 && Read(pid) is { } s && s.StartTicks == startTicks;

    /// <summary>The first live child of <paramref name="parentPid"/>, or 0.</summary>
    public static int FindChild(int parentPid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Read(pid) is { } s && s.ParentPid == parentPid)
            {
                return pid;
            }
        }

        return 0;
    }

    /// <summary>Live processes whose command line contains <paramref name="needle"/> (an agent is labelled by its state dir).</summary>
    public static List<int> FindByCommandLine(string needle)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText($"{dir}/cmdline").Replace('\0', ' ').Contains(needle, StringComparison.Ordinal) && Read(pid) is not null)
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited meanwhile
            }
        }

        return pids;
    }
}
