using System.Text;
using Sandboxd.Core;
using Sandboxd.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Terminals;

/// <summary>The terminals feature's side of the live channels: stream sources, terminal:created, inbound input.</summary>
internal sealed class TerminalEvents(LiveHub hub, TimeProvider time, ILogger<TerminalEvents> logger)
{
    /// <summary>When terminal:created is re-sent to every socket of the sandbox until one subscribes (spec §6.1).</summary>
    private static readonly int[] CreatedSchedule = [100, 300, 1000, 2000, 3500];

    public void Created(SandboxContext sandbox, Terminal terminal)
    {
        var output = terminal.Output!;
        var base64 = terminal.Encoding == "base64";
        hub.SetSource(sandbox, new StreamSource(
            terminal.Channel,
            [new LogStream("output", output, base64, (text, next) => LiveMessage.TerminalOutput(terminal.Channel,
                new TerminalOutputEvent(text, next, base64 ? "base64" : null)))],
            () => LiveMessage.TerminalDestroyed(terminal.Channel, new TerminalDestroyedEvent(terminal.Id, terminal.ExitCode ?? -1))));
        terminal.CreatedAnnouncer = AnnounceCreatedAsync(sandbox, terminal);
    }

    private async Task AnnounceCreatedAsync(SandboxContext sandbox, Terminal terminal)
    {
        var message = LiveMessage.TerminalCreated(terminal.Channel, new TerminalCreatedEvent(terminal.Id, "running"));
        var elapsed = 0;
        foreach (var at in CreatedSchedule)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(at - elapsed), time).ConfigureAwait(false);
            elapsed = at;
            if (hub.HasSubscribers(sandbox, terminal.Channel))
            {
                return;
            }

            hub.Broadcast(sandbox, message);
        }
    }

    public void Destroyed(SandboxContext sandbox, Terminal terminal)
    {
        // The pump sends terminal:destroyed after the last output; the source is kept so a late subscriber still gets both.
        if (terminal.TryMarkDestroyed())
        {
            logger.TerminalEnded(terminal.Id, terminal.ExitCode ?? -1);
        }
    }

    /// <summary>Waits (bounded) until terminal:destroyed has been written to every socket subscribed to the terminal.</summary>
    public Task DestroyedDeliveredAsync(SandboxContext sandbox, Terminal terminal, TimeSpan timeout) =>
        hub.WhenPumpsEndedAsync(sandbox, terminal.Channel, timeout);

    /// <summary>Deleted terminals whose output stays subscribable (a client that was disconnected during the delete
    /// still gets the rest and terminal:destroyed on resubscribe); the oldest beyond the limit are dropped.</summary>
    public const int RetainedDeletedTerminals = 64;
    private readonly Queue<(SandboxContext Sandbox, string Channel)> _retained = new();
    private readonly Lock _retainedGate = new();

    public void Removed(SandboxContext sandbox, Terminal terminal)
    {
        lock (_retainedGate)
        {
            _retained.Enqueue((sandbox, terminal.Channel));
            while (_retained.Count > RetainedDeletedTerminals)
            {
                var (oldSandbox, channel) = _retained.Dequeue();
                hub.RemoveSource(oldSandbox, channel);
            }
        }
    }

    public void CommandCreated(SandboxContext sandbox, CommandRecord record) =>
        hub.SetSource(sandbox, new StreamSource(
            record.Channel,
            [
                new LogStream("stdout", record.Stdout, false, (text, next) => LiveMessage.CommandOutput("command:stdout", record.Channel,
                    new CommandOutputEvent(text, record.TerminalId, record.CmdId, next))),
                new LogStream("stderr", record.Stderr, false, (text, next) => LiveMessage.CommandOutput("command:stderr", record.Channel,
                    new CommandOutputEvent(text, record.TerminalId, record.CmdId, next))),
            ],
            () => LiveMessage.CommandExit(record.Channel,
                new CommandExitEvent(record.Exit?.ExitCode ?? -1, record.TerminalId, record.CmdId, record.Reason, record.Exit?.SignalName))));

    public void CommandForgotten(SandboxContext sandbox, CommandRecord record) => hub.RemoveSource(sandbox, record.Channel);

    /// <summary>Publishes terminal:error on the terminal's channel (input to a stopped or unknown terminal).</summary>
    public void Error(SandboxContext sandbox, string terminalId, string error) =>
        hub.Publish(sandbox, LiveMessage.TerminalError("terminal:" + terminalId, new TerminalErrorEvent(error)));

    public static byte[] InputBytes(string input) => Encoding.UTF8.GetBytes(input);
}
