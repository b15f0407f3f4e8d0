using Sandboxd.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Terminals;

/// <summary>Inbound WebSocket messages for terminals and streamed commands, routed by the ids in their data.</summary>
internal sealed class TerminalInput(TerminalEvents events, CommandExecutor executor)
{
    public void Register(LiveHub hub)
    {
        hub.On("terminal:input", InputAsync);
        hub.On("terminal:resize", ResizeAsync);
        hub.On("command:start", StartAsync);
    }

    private ValueTask InputAsync(LiveConnection connection, InboundMessage message)
    {
        var data = message.Read(LiveJsonContext.Default.TerminalInputData);
        var id = data?.TerminalId ?? "";
        var input = data?.Input;
        if (message.GetBytes("input") is { } bytes)
        {
            if (TryGetPty(connection, id, out var t) && !t.Process!.EnqueueInput(bytes))
            {
                events.Error(connection.Sandbox, id, $"Terminal {id} is not taking input (its shell exited, or 16 MiB of input are already waiting).");
            }

            return ValueTask.CompletedTask;
        }

        if (input is null)
        {
            return ValueTask.CompletedTask;
        }

        if (TryGetPty(connection, id, out var terminal))
        {
            if (!terminal.Process!.EnqueueInput(TerminalEvents.InputBytes(input)))
            {
                events.Error(connection.Sandbox, id, $"Terminal {id} is not taking input (its shell exited, or 16 MiB of input are already waiting).");
            }
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask ResizeAsync(LiveConnection connection, InboundMessage message)
    {
        // A resize without both sizes (or with one of the wrong kind) is ignored, as before typed messages.
        if (message.Read(LiveJsonContext.Default.TerminalResizeData) is { } data && TryGetPty(connection, data.TerminalId ?? "", out var terminal))
        {
            terminal.Resize(Math.Clamp(data.Cols, 1, 1000), Math.Clamp(data.Rows, 1, 1000));
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask StartAsync(LiveConnection connection, InboundMessage message)
    {
        var id = message.Read(LiveJsonContext.Default.CommandStartData)?.CmdId ?? "";
        if (CommandExecutor.TryGetActive(connection.Sandbox, id, out var record) && record.IsPending)
        {
            // The command's task completes on its own; the record (in its terminal) owns it from here.
            record.Run = executor.StartAsync(connection.Sandbox, record);
        }

        return ValueTask.CompletedTask;
    }

    private bool TryGetPty(LiveConnection connection, string id, out Terminal terminal)
    {
        if (CommandExecutor.Registry(connection.Sandbox).Terminals.TryGetValue(id, out terminal!) && terminal.IsPty
            && terminal.Process is { HasExited: false })
        {
            return true;
        }

        events.Error(connection.Sandbox, id, terminal is null
            ? $"Terminal {id} not found."
            : terminal.IsPty ? $"Terminal {id} has stopped." : $"Terminal {id} is not a PTY terminal.");
        return false;
    }
}
