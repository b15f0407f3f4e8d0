using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace Sandboxd.Files;

/// <summary>
/// The temp files of streamed writes (raw PUT, archive extraction): <c>.NAME.sandboxd-GUID.tmp</c> beside the target.
/// An agent killed mid-upload leaves one behind; it is swept by the next write into the same directory
/// (docs/protocol-notes.md, "Temp files"): a temp this agent is not writing is removed when it was last modified before
/// this agent's first streamed write (so it belongs to a dead agent) or more than <see cref="StaleAfter"/> ago (a live writer keeps its
/// temp's mtime fresh). A directory is swept at most once a minute.
/// </summary>
internal static partial class UploadTemps
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(15);

    /// <summary>Before any write of this agent: every temp it makes is in <see cref="InFlight"/> until done.</summary>
    private static readonly DateTime AgentStartUtc = DateTime.UtcNow;
    private static readonly ConcurrentDictionary<string, byte> InFlight = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> LastSweep = new(StringComparer.Ordinal);

    [GeneratedRegex(@"^\..*\.sandboxd-[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TempName();

    /// <summary>A new temp path beside <paramref name="target"/>, registered as in flight until <see cref="Done"/>.</summary>
    public static string Begin(string target)
    {
        var temp = Path.Combine(Path.GetDirectoryName(target) ?? "/", $".{Path.GetFileName(target)}.sandboxd-{Guid.NewGuid():N}.tmp");
        InFlight[temp] = 0;
        return temp;
    }

    public static void Done(string temp) => InFlight.TryRemove(temp, out _);

    /// <summary>Removes stale temps of dead or stalled uploads in <paramref name="directory"/>; returns how many.</summary>
    public static int Sweep(string directory)
    {
        var now = Environment.TickCount64;
        if (LastSweep.TryGetValue(directory, out var last) && now - last < 60_000)
        {
            return 0;
        }

        if (LastSweep.Count > 4096)
        {
            LastSweep.Clear(); // a bound, not a cache: a directory forgotten here is merely swept again
        }

        LastSweep[directory] = now;
        var removed = 0;
        var cutoff = DateTime.UtcNow - StaleAfter;
        try
        {
            foreach (var path in Directory.EnumerateFiles(directory, ".*.tmp", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = false }))
            {
                if (!TempName().IsMatch(Path.GetFileName(path)) || InFlight.ContainsKey(path))
                {
                    continue;
                }

                var modified = File.GetLastWriteTimeUtc(path);
                if (modified < AgentStartUtc || modified < cutoff)
                {
                    RawFileEndpoints.TryDelete(path);
                    removed++;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: an unreadable directory is not swept
        }

        return removed;
    }
}
