using System.Text.Json.Serialization;
using Sandboxd.Native;
using Sandboxd.Protocol;

namespace Sandboxd.Servers;

/// <summary>What survives an agent restart for one server: its definition, whether it ran, and its last pid (to clean up).</summary>
internal sealed record PersistedServer(string Sandbox, StartServerRequest Spec, bool Running, int? Pid, string? PidStartTime);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<PersistedServer>))]
internal sealed partial class ServerStateJsonContext : JsonSerializerContext;

internal sealed partial class ServerSupervisor
{
    private const string StateFile = "servers.json";

    private async Task PersistAsync(CancellationToken cancellationToken)
    {
        await _persistGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var list = _all.Keys
                .OrderBy(s => s.CreatedAt)
                .Select(s => new PersistedServer(
                    s.Sandbox.Subdomain,
                    s.Config.Request with { Path = s.Config.WorkingDirectory },
                    s.Status is not (ServerStatus.Stopped or ServerStatus.Failed),
                    s.Pid,
                    s.Pid is { } pid ? StartTime(pid) : null))
                .ToList();
            state.Write(StateFile, list, ServerStateJsonContext.Default.ListPersistedServer);
        }
        catch (IOException e)
        {
            _log.PersistFailed(e);
        }
        finally
        {
            _persistGate.Release();
        }
    }

    /// <summary>Field 22 of /proc/&lt;pid&gt;/stat: with the pid it identifies one process across pid reuse.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 ? fields[19] : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        List<PersistedServer>? saved;
        try
        {
            saved = state.Read(StateFile, ServerStateJsonContext.Default.ListPersistedServer);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            _log.RestoreFailed(e);
            return;
        }

        foreach (var entry in saved ?? [])
        {
            // A server left behind by an agent that was killed still runs in its own session: stop that group first,
            // or the restarted server would find its port taken.
            if (entry.Pid is { } pid && entry.PidStartTime is { } started && StartTime(pid) == started)
            {
                _log.StoppingLeftover(entry.Spec.Slug ?? "", pid);
                ProcessTable.SignalGroup(pid, LibC.SIGTERM);
                var deadline = _time.GetUtcNow().AddSeconds(5);
                while (StartTime(pid) == started && _time.GetUtcNow() < deadline)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
                }

                ProcessTable.SignalGroup(pid, LibC.SIGKILL);
            }

            var sandbox = entry.Sandbox == sandboxes.Main.Subdomain ? sandboxes.Main
                : sandboxes.TryGetChild(entry.Sandbox, out var child) ? child : null;
            if (sandbox is null)
            {
                continue;
            }

            var config = ServerConfig.TryCreate(entry.Spec, sandbox.Resolve, out var error);
            if (config is null)
            {
                _log.RestoreInvalid(entry.Spec.Slug ?? "", error ?? "");
                continue;
            }

            var server = new ManagedServer(sandbox, config, _time);
            Registry(sandbox)[config.Slug] = server;
            _all[server] = 0;
            if (entry.Running && config.Autostart)
            {
                Launch(server);
            }
            else
            {
                server.SetStatus(ServerStatus.Stopped);
            }
        }
    }
}
