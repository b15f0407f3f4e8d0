using System.Globalization;

namespace Sandboxd.Native;

/// <summary>
/// Under memory pressure the kernel's OOM killer must pick the workload, not the agent (a killed agent takes every
/// terminal, server and command with it, and nobody is told why — daytona#5140). Every child gets an
/// <c>oom_score_adj</c> of +500 (or the agent's own, when that is higher) right after it is spawned, and its
/// descendants inherit it. The agent keeps its own score: raising a child's needs no privilege, and an agent made
/// OOM-immune would let its own leak kill everything else instead (e2b infra#2682).
/// </summary>
/// <remarks>
/// posix_spawn returns once the child has exec'd, and the score is written microseconds later; a program that forks
/// within those microseconds (before its dynamic loader has finished) would leave that one grandchild at the agent's
/// score. No shell or runtime gets that far that fast.
/// </remarks>
internal static class OomScore
{
    public const int ChildAdjustment = 500;
    private static readonly string? Value = ComputeValue();

    public static void MakeChildPreferred(int pid)
    {
        if (Value is null)
        {
            return;
        }

        try
        {
            File.WriteAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/oom_score_adj", Value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the child is already gone, or /proc is not ours to write: nothing to protect against
        }
    }

    private static string? ComputeValue()
    {
        try
        {
            var own = int.Parse(File.ReadAllText("/proc/self/oom_score_adj").Trim(), CultureInfo.InvariantCulture);
            return own >= ChildAdjustment ? null : ChildAdjustment.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
