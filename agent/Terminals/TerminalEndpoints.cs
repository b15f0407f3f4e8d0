using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Protocol;

namespace Sandboxd.Terminals;

internal static class TerminalEndpoints
{
    public static async Task<JsonHttpResult<Envelope<TerminalInfo>>> CreateAsync(HttpContext http, SandboxContext context, TerminalService terminals, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadOptionalAsync(http.Request, ProtocolJsonContext.Default.CreateTerminalRequest, cancellationToken);

        var request = body ?? new CreateTerminalRequest();
        var terminal = terminals.Create(context, request);
        return Api.Ok(terminals.ToInfo(http, terminal), ProtocolJsonContext.Default.EnvelopeTerminalInfo, "terminal created", StatusCodes.Status201Created);
    }

    public static JsonHttpResult<Envelope<TerminalList>> List(HttpContext http, SandboxContext context, TerminalService terminals)
    {
        var list = CommandExecutor.Registry(context).Terminals.Values
            .OrderBy(t => t.CreatedAt)
            .Select(t => terminals.ToInfo(http, t))
            .ToList();
        return Api.Ok(new TerminalList(list), ProtocolJsonContext.Default.EnvelopeTerminalList);
    }

    public static Results<JsonHttpResult<Envelope<TerminalInfo>>, JsonHttpResult<ErrorResponse>> Get(string id, HttpContext http, SandboxContext context, TerminalService terminals) =>
        CommandExecutor.Registry(context).Terminals.TryGetValue(id, out var terminal)
            ? Api.Ok(terminals.ToInfo(http, terminal), ProtocolJsonContext.Default.EnvelopeTerminalInfo)
            : Api.NotFound($"Terminal {id} not found.");

    public static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DestroyAsync(string id, SandboxContext context, TerminalService terminals) =>
        await terminals.DestroyAsync(context, id) ? Api.NoContent() : Api.NotFound($"Terminal {id} not found.");

    public static async Task<Results<JsonHttpResult<Envelope<CommandInfo>>, JsonHttpResult<ErrorResponse>>> ExecuteAsync(
        string id, HttpContext http, SandboxContext context, Commands commands, CancellationToken cancellationToken)
    {
        if (!CommandExecutor.Registry(context).Terminals.TryGetValue(id, out var terminal))
        {
            return Api.NotFound($"Terminal {id} not found.");
        }

        if (terminal.IsPty)
        {
            return Api.BadRequest($"Terminal {id} is a PTY terminal: send input over the WebSocket (terminal:input) instead of /execute.");
        }

        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.TerminalExecuteRequest, cancellationToken);

        var request = body;
        var spec = ExecSpecFactory.TryCreate(context, request.Command, request.Shell, request.Cwd, request.Env, null, request.TimeoutMs, out var error, request.MemoryMb, request.PidsMax);
        if (spec is null)
        {
            return Api.BadRequest(error!);
        }

        var background = request.Background == true;
        var record = await commands.RunAsync(context, terminal, spec, background ? CommandMode.Background : CommandMode.Foreground, cancellationToken);
        if (background)
        {
            return Api.Ok(record.ToStartedInfo(), ProtocolJsonContext.Default.EnvelopeCommandInfo, "command started in the background");
        }

        return Api.Ok(record.ToInfo(withOutput: true), ProtocolJsonContext.Default.EnvelopeCommandInfo, "command finished");
    }

    public static Results<JsonHttpResult<Envelope<CommandList>>, JsonHttpResult<ErrorResponse>> ListCommands(string id, SandboxContext context)
    {
        if (!TryGetExec(context, id, out var terminal, out var problem))
        {
            return problem;
        }

        var commands = terminal.Commands.Select(c => c.ToInfo(withOutput: false)).ToList();
        return Api.Ok(new CommandList(commands, commands.Count), ProtocolJsonContext.Default.EnvelopeCommandList);
    }

    public static Results<JsonHttpResult<Envelope<CommandInfo>>, JsonHttpResult<ErrorResponse>> GetCommand(string id, string cmdId, SandboxContext context)
    {
        if (!TryGetExec(context, id, out var terminal, out var problem))
        {
            return problem;
        }

        return terminal.TryGetCommand(cmdId, out var record)
            ? Api.Ok(record.ToInfo(withOutput: true), ProtocolJsonContext.Default.EnvelopeCommandInfo)
            : Api.NotFound($"Command {cmdId} not found in terminal {id}.");
    }

    /// <summary>Long-poll until the command finishes; <c>?timeout=S</c> (seconds, may be fractional) ⇒ 408 when it elapses.</summary>
    public static async Task<Results<JsonHttpResult<Envelope<CommandInfo>>, JsonHttpResult<ErrorResponse>>> WaitAsync(string id, string cmdId, HttpContext http, SandboxContext context, CancellationToken cancellationToken)
    {
        if (!TryGetExec(context, id, out var terminal, out var problem))
        {
            return problem;
        }

        if (!terminal.TryGetCommand(cmdId, out var record))
        {
            return Api.NotFound($"Command {cmdId} not found in terminal {id}.");
        }

        TimeSpan? timeout = null;
        if (http.Request.Query.TryGetValue("timeout", out var raw) && raw.ToString() is { Length: > 0 } text)
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 0 || double.IsNaN(seconds))
            {
                return Api.BadRequest($"Query 'timeout' must be a number of seconds, not '{text}'.");
            }

            if (seconds > 0)
            {
                timeout = TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue / 1000.0));
            }
        }

        try
        {
            await (timeout is { } t ? record.Completed.WaitAsync(t, cancellationToken) : record.Completed.WaitAsync(cancellationToken));
        }
        catch (TimeoutException)
        {
            return Api.Error(ErrorKind.Timeout, $"timed out waiting for command {cmdId}");
        }

        return Api.Ok(record.ToInfo(withOutput: true), ProtocolJsonContext.Default.EnvelopeCommandInfo, "command finished");
    }

    private static bool TryGetExec(SandboxContext context, string id, [NotNullWhen(true)] out Terminal? terminal, [NotNullWhen(false)] out JsonHttpResult<ErrorResponse>? problem)
    {
        problem = null;
        if (!CommandExecutor.Registry(context).Terminals.TryGetValue(id, out terminal))
        {
            problem = Api.NotFound($"Terminal {id} not found.");
            return false;
        }

        if (terminal.IsPty)
        {
            problem = Api.BadRequest($"Terminal {id} is a PTY terminal and has no command history.");
            return false;
        }

        return true;
    }
}
