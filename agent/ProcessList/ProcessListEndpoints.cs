using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Native;
using Sandboxd.Processes;
using Sandboxd.Protocol;

namespace Sandboxd.ProcessList;

internal static class ProcessListEndpoints
{
    public static JsonHttpResult<Envelope<ProcessListData>> List(SandboxContext sandbox, Spawner spawner)
    {
        var owned = SandboxProcesses.Of(sandbox, spawner);
        var entries = new List<ProcessEntry>(owned.Count);
        foreach (var (pid, owner) in owned.OrderBy(p => p.Key))
        {
            if (ProcInfo.TryRead(pid, owner, out var entry))
            {
                entries.Add(entry);
            }
        }

        return Api.Ok(new ProcessListData(entries), ProtocolJsonContext.Default.EnvelopeProcessListData);
    }

    public static async Task<Results<JsonHttpResult<Envelope<SignalProcessData>>, JsonHttpResult<ErrorResponse>>> SignalAsync(int pid, HttpContext http, SandboxContext sandbox, Spawner spawner, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.SignalProcessRequest, cancellationToken);

        if (!SignalNames.TryParse(body.Signal, out var number, out var name))
        {
            return Api.BadRequest($"Unknown signal '{body.Signal}' (use a name such as TERM, KILL, INT, HUP, USR1, USR2, STOP, CONT, QUIT, WINCH, or a number 1-64).");
        }

        // Only a process of this sandbox's own tree: never the agent, a parent sandbox's process or a foreign one.
        var owned = SandboxProcesses.Of(sandbox, spawner);
        if (pid == ProcessTable.SelfPid || !owned.ContainsKey(pid))
        {
            return Api.NotFound($"Process {pid} is not a process of this sandbox.");
        }

        var group = body.Group == true;
        if (group)
        {
            if (!ProcInfo.TryReadStat(pid, out var stat) || stat.ProcessGroup <= 1 || !owned.ContainsKey(stat.ProcessGroup))
            {
                return Api.NotFound($"The process group of {pid} is not led by a process of this sandbox.");
            }

            if (!ProcessTable.SignalGroup(stat.ProcessGroup, number))
            {
                return Api.NotFound($"Process group {stat.ProcessGroup} is gone.");
            }
        }
        else if (!ProcessTable.SignalProcess(pid, number))
        {
            return Api.NotFound($"Process {pid} is gone.");
        }

        return Api.Ok(new SignalProcessData(pid, name, group), ProtocolJsonContext.Default.EnvelopeSignalProcessData, "signal sent");
    }
}
