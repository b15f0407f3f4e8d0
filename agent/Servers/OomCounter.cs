using System.Globalization;

namespace Sandboxd.Servers;

/// <summary>Reads the kernel's oom_kill counter of the agent's cgroup (cgroup v2), so a SIGKILLed server can be called OOM-killed only when the kernel says so.</summary>
internal static class OomCounter
{
    public static long? Read()
    {
        try
        {
            var line = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
            if (line is null)
            {
                return null;
            }

            var events = Path.Combine("/sys/fs/cgroup", line[3..].TrimStart('/'), "memory.events");
            foreach (var entry in File.ReadLines(events))
            {
                if (entry.StartsWith("oom_kill ", StringComparison.Ordinal))
                {
                    return long.Parse(entry.AsSpan(9), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // no cgroup v2 memory controller here
        }

        return null;
    }
}
