using Sandboxd.Core;

namespace Sandboxd.Terminals;

/// <summary>How a command is run: waited for, started and left running, or only registered (a streamed command
/// starts when its WebSocket subscriber sends <c>command:start</c>).</summary>
internal enum CommandMode { Foreground, Background, Registered }

/// <summary>
/// The one run-and-wait path of a command — <c>/run/command</c>, <c>/execute</c>, <c>/terminals/{id}/execute</c> and
/// <c>/run/code</c> all come here: create the record on its terminal, start it, wait for the leader's exit, and stop the
/// whole group if the caller gives up on a foreground command rather than leave it running unseen.
/// </summary>
internal sealed class Commands(CommandExecutor executor)
{
    /// <summary>Runs <paramref name="spec"/> on <paramref name="terminal"/> (null: the sandbox's implicit terminal).</summary>
    public async Task<CommandRecord> RunAsync(SandboxContext sandbox, Terminal? terminal, ExecSpec spec, CommandMode mode, CancellationToken cancellationToken)
    {
        terminal ??= CommandExecutor.Registry(sandbox).Implicit();
        if (spec.Limits is null && terminal.Limits is { } limits)
        {
            spec = spec with { Limits = limits }; // an exec terminal's limits are its commands' default
        }

        var record = executor.Create(sandbox, terminal, spec);
        if (mode == CommandMode.Registered)
        {
            return record;
        }

        var completion = executor.StartAsync(sandbox, record);
        if (mode == CommandMode.Background)
        {
            return record;
        }

        try
        {
            await completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await executor.StopAsync(record).ConfigureAwait(false);
            throw;
        }

        return record;
    }
}
