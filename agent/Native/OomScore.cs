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
/// The score is inherited, not written afterwards: while any posix_spawn is in flight the agent's own score is the
/// child's, and it is lowered back as soon as the last one in flight returns. The kernel copies the score into the
/// child at clone time, so it holds from the child's first instruction — a write to /proc/&lt;pid&gt;/oom_score_adj
/// after posix_spawn returned raced a child that read or forked at once. Spawns overlap (ADR 0018): the first to
/// begin raises the score, the last to end lowers it, so the time in which the agent is itself the preferred victim
/// is the union of the spawn windows — never longer than when spawns ran one at a time. Raising needs no privilege,
/// and lowering back to a value the agent had is always allowed (it is not below its oom_score_adj_min). The cost is
/// at most two small writes per spawn. See docs/adr/0004-oom-score-at-spawn.md.
/// </remarks>
internal static class OomScore
{
    public const int ChildAdjustment = 500;
    private const string SelfPath = "/proc/self/oom_score_adj";
    private static readonly (byte[] Child, byte[] Own)? Values = ComputeValues();
    private static readonly Lock Gate = new();
    /// <remarks>Guarded by <see cref="Gate"/>: spawns between <see cref="BeginSpawn"/> and <see cref="EndSpawn"/>.</remarks>
    private static int s_inFlight;
    /// <remarks>Guarded by <see cref="Gate"/>: the agent's score is the child's now.</remarks>
    private static bool s_raised;

    /// <summary>
    /// Call right before posix_spawn: from here until the matching <see cref="EndSpawn"/> the agent's score (and so
    /// that of a child cloned meanwhile) is the child's. The write is done under the gate before this returns, so a
    /// spawn that begins while another is in flight finds the score already raised.
    /// </summary>
    public static void BeginSpawn()
    {
        if (Values is not { } values)
        {
            return;
        }

        lock (Gate)
        {
            if (s_inFlight++ == 0)
            {
                s_raised = TryWrite(values.Child);
            }
        }
    }

    /// <summary>Call once posix_spawn has returned (the child has exec'd, or the spawn failed): the last one out
    /// restores the agent's own score.</summary>
    public static void EndSpawn()
    {
        if (Values is not { } values)
        {
            return;
        }

        lock (Gate)
        {
            if (--s_inFlight == 0 && s_raised)
            {
                TryWrite(values.Own);
                s_raised = false;
            }
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
