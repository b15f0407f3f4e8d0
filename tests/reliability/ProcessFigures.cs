using System.Globalization;

namespace Sandboxd.Reliability;

/// <summary>What the kernel says about the agent: open descriptors (/proc/PID/fd) and resident memory (VmRSS).</summary>
public readonly record struct ProcessFigures(int Fds, long RssKiB)
{
    public static ProcessFigures Of(int pid) => new(Directory.GetFiles($"/proc/{pid}/fd").Length, RssKiBOf(pid));

    private static long RssKiBOf(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS line.");
    }

    public override string ToString() => $"fds {Fds}, RSS {RssKiB / 1024.0:0.0} MiB";
}
