using Sandboxd.Core;
using Sandboxd.Native;
using Sandboxd.Processes;

namespace Sandboxd.ProcessList;

/// <summary>
/// Which processes belong to a sandbox: the trees of the children its commands, terminals and servers started. The
/// main sandbox also sees its child sandboxes' processes and the agent's adopted orphans; a child sandbox sees only
/// its own. The agent itself is never part of any sandbox.
/// </summary>
internal static class SandboxProcesses
{
    public static Dictionary<int, ProcessOwner?> Of(SandboxContext sandbox, Spawner spawner)
    {
        var result = new Dictionary<int, ProcessOwner?>();
        foreach (var child in spawner.Live)
        {
            if (child.HasExited || (!sandbox.IsMain && child.Owner?.Sandbox != sandbox.Subdomain))
            {
                continue;
            }

            foreach (var pid in child.Tree())
            {
                result.TryAdd(pid, child.Owner);
            }
        }

        if (sandbox.IsMain && ProcessTable.OwnsItsTree)
        {
            foreach (var pid in ProcessTable.AgentDescendants())
            {
                result.TryAdd(pid, null);
            }
        }

        result.Remove(ProcessTable.SelfPid);
        return result;
    }
}
