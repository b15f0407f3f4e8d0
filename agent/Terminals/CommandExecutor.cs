using Sandboxd.Core;
using Sandboxd.Native;
using Sandboxd.Processes;

namespace Sandboxd.Terminals;

/// <summary>
/// Runs exec-terminal commands (and through them every <c>/run/command</c>): foreground, background and streamed all
/// take this path, so a command is always a record in a terminal, with capped output logs, a run timeout that stops
/// the whole group, and a result that is ready when the leader exits.
/// </summary>
internal sealed class CommandExecutor(
    Spawner spawner, ChildEnvironment environment, TerminalEvents events, TimeProvider time, ILogger<CommandExecutor> logger)
{
    public static TerminalRegistry Registry(SandboxContext context) => context.Feature(() => new TerminalRegistry());

    /// <summary>A streamed command never started within this time is discarded (spec §5.3).</summary>
    public static readonly TimeSpan PendingLifetime = TimeSpan.FromSeconds(60);

    public CommandRecord Create(SandboxContext context, Terminal terminal, ExecSpec spec)
    {
        var registry = Registry(context);
        DiscardStalePending(registry, time);
        var record = new CommandRecord(terminal.Id, spec, spawner.Options.OutputCapBytes, time);
        events.CommandCreated(context, record);
        foreach (var evicted in terminal.Add(record))
        {
            events.CommandForgotten(context, evicted);
        }

        registry.Commands[record.CmdId] = record;
        return record;
    }

    /// <summary>Swept on every create instead of by a timer: stale pending commands hold no process, only a record.</summary>
    internal static void DiscardStalePending(TerminalRegistry registry, TimeProvider time)
    {
        var cutoff = time.GetUtcNow().UtcDateTime - PendingLifetime;
        foreach (var (id, record) in registry.Commands)
        {
            if (record.IsPending && record.CreatedAt < cutoff && record.TryMarkStarted())
            {
                record.Finish(new ExitStatus(125, null), timedOut: false);
                registry.Commands.TryRemove(id, out _);
            }
        }
    }

    /// <summary>Finds a pending or running command of the sandbox by id (for <c>command:start</c>).</summary>
    public static bool TryGetActive(SandboxContext context, string cmdId, out CommandRecord record) =>
        Registry(context).Commands.TryGetValue(cmdId, out record!);

    /// <summary>Starts a created (or pending) record. The returned task completes when the command has finished.</summary>
    public Task StartAsync(SandboxContext context, CommandRecord record)
    {
        if (!record.TryMarkStarted())
        {
            return record.Completed;
        }

        var spec = record.Spec;
        ChildProcess child;
        try
        {
            child = spawner.Spawn(
                new ProcessSpec([spec.Shell, "-c", spec.Command], spec.WorkingDirectory, environment.Build(context.Environment, spec.Environment),
                    Owner: new ProcessOwner(context.Subdomain, "command", record.CmdId), Limits: spec.Limits),
                record.Stdout,
                record.Stderr);
        }
        catch (SpawnException e)
        {
            record.Finish(Spawner.SpawnFailure(e, record.Stderr), timedOut: false);
            Forget(context, record);
            return record.Completed;
        }
        catch (Exception e) when (spec.Limits is not null && e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // The command's cgroup could not be made (the host changed since the request was checked): it does not run.
            record.Stderr.Append(System.Text.Encoding.UTF8.GetBytes($"sandboxd: cannot apply the command's limits: {e.Message}\n"));
            record.Finish(new ExitStatus(126, null), timedOut: false);
            Forget(context, record);
            return record.Completed;
        }

        record.Attach(child);
        return MonitorAsync(context, record, child);
    }

    private async Task MonitorAsync(SandboxContext context, CommandRecord record, ChildProcess child)
    {
        var timedOut = false;
        ExitStatus exit;
        try
        {
            exit = record.Spec.Timeout is { } timeout
                ? await child.Exited.WaitAsync(timeout).ConfigureAwait(false)
                : await child.Exited.ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            timedOut = true;
            logger.CommandTimedOut(record.CmdId, (long)record.Spec.Timeout!.Value.TotalMilliseconds);
            exit = await StopChildAsync(child).ConfigureAwait(false);
        }

        record.Finish(exit, timedOut, stopped: child.StopRequested);
        Forget(context, record);
    }

    /// <summary>Stops a command's whole process group (a client that gave up, a destroyed terminal).</summary>
    public async Task StopAsync(CommandRecord record)
    {
        if (record.Child is { HasExited: false } child)
        {
            await StopChildAsync(child).ConfigureAwait(false);
        }
        else if (record.IsPending)
        {
            record.TryMarkStarted();
            record.Finish(new ExitStatus(130, null), timedOut: false);
        }

        await record.Completed.ConfigureAwait(false);
    }

    private async Task<ExitStatus> StopChildAsync(ChildProcess child)
    {
        try
        {
            return await child.StopAsync(spawner.Options.StopGrace, LibC.SIGTERM, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            logger.StopFailed(e, child.Pid);
            return await child.Exited.ConfigureAwait(false);
        }
    }

    private static void Forget(SandboxContext context, CommandRecord record) => Registry(context).Commands.TryRemove(record.CmdId, out _);
}
