using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Sandboxd.Native;

/// <summary>
/// Under memory pressure the kernel's OOM killer must pick the workload, not the agent (a killed agent takes every
/// terminal, server and command with it, and nobody is told why — daytona#5140). Every child gets an
/// <c>oom_score_adj</c> of +500 (or the agent's own, when that is higher), and its descendants inherit it. The agent
/// keeps its own score the rest of the time: an agent made OOM-immune would let its own leak kill everything else
/// instead (e2b infra#2682).
/// </summary>
/// <remarks>
/// The score is inherited, not written afterwards: around each posix_spawn (with the spawn lock held, so spawns never
/// interleave) the agent raises its own score to the child's, and lowers it back as soon as posix_spawn returns. The
/// kernel copies the score into the child at clone time, so it holds from the child's first instruction — a write to
/// /proc/&lt;pid&gt;/oom_score_adj after posix_spawn returned raced a child that read or forked at once. Raising needs no
/// privilege, and lowering back to a value the agent had is always allowed (it is not below its oom_score_adj_min).
/// The cost is two small writes per spawn and a window of one posix_spawn (the clone and the exec, well under a
/// millisecond) in which the agent itself is the preferred victim. See docs/adr/0004-oom-score-at-spawn.md.
/// </remarks>
internal static class OomScore
{
    public const int ChildAdjustment = 500;
    private const string SelfPath = "/proc/self/oom_score_adj";
    private static readonly (byte[] Child, byte[] Own)? Values = ComputeValues();

    /// <summary>Runs <paramref name="spawn"/> with the agent's score raised to the child's, then restores the agent's.</summary>
    /// <remarks>Call with the spawn lock held: the score is process-wide.</remarks>
    public static int SpawnPreferred(Func<int> spawn)
    {
        if (Values is not { } values || !TryWrite(values.Child))
        {
            return spawn();
        }

        try
        {
            return spawn();
        }
        finally
        {
            TryWrite(values.Own);
        }
    }

    /// <summary>Opened once (write-only) and written with pwrite at offset 0: two syscalls per spawn instead of ten
    /// (open, fstatfs, ftruncate, write, close, twice), on the exec path of every command (bench/exec-latency).</summary>
    private static readonly Lazy<SafeFileHandle?> Handle = new(() =>
    {
        try
        {
            return File.OpenHandle(SelfPath, FileMode.Open, FileAccess.Write);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    });

    private static bool TryWrite(byte[] value)
    {
        if (Handle.Value is not { } handle)
        {
            return false; // /proc is not ours to write: nothing to protect against
        }

        try
        {
            RandomAccess.Write(handle, value, 0);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static (byte[], byte[])? ComputeValues()
    {
        try
        {
            var own = int.Parse(File.ReadAllText(SelfPath).Trim(), CultureInfo.InvariantCulture);
            return own >= ChildAdjustment ? null : (Encoding.ASCII.GetBytes(ChildAdjustment.ToString(CultureInfo.InvariantCulture)), Encoding.ASCII.GetBytes(own.ToString(CultureInfo.InvariantCulture)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
