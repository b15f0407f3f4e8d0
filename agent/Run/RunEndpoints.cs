using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;
using Sandboxd.Terminals;

namespace Sandboxd.Run;

internal static class RunEndpoints
{
    /// <summary><c>POST /run/command</c> and <c>POST /execute</c>: foreground, background or streamed.</summary>
    public static async Task<Results<JsonHttpResult<Envelope<CommandResult>>, JsonHttpResult<ErrorResponse>>> CommandAsync(HttpContext http, SandboxContext context, Commands commands, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.RunCommandRequest, cancellationToken);

        var request = body;
        var spec = ExecSpecFactory.TryCreate(context, request.Command, request.Shell, request.Cwd, request.Env, request.Timeout, request.TimeoutMs, out var error, request.MemoryMb, request.PidsMax);
        if (spec is null)
        {
            return Api.BadRequest(error!);
        }

        var mode = request.Stream == true ? CommandMode.Registered : request.Background == true ? CommandMode.Background : CommandMode.Foreground;
        var record = await commands.RunAsync(context, null, spec, mode, cancellationToken);
        return mode switch
        {
            CommandMode.Registered => Api.Ok(record.ToResult(withOutput: false), ProtocolJsonContext.Default.EnvelopeCommandResult, "command registered; subscribe to its channel and send command:start"),
            CommandMode.Background => Api.Ok(record.ToStartedResult(), ProtocolJsonContext.Default.EnvelopeCommandResult, "command started in the background"),
            _ => Api.Ok(record.ToResult(withOutput: true), ProtocolJsonContext.Default.EnvelopeCommandResult, "command finished"),
        };
    }

    /// <summary><c>POST /run/code</c>.</summary>
    public static async Task<Results<JsonHttpResult<Envelope<RunCodeData>>, JsonHttpResult<ErrorResponse>>> CodeAsync(HttpContext http, SandboxContext context, CodeRunner runner, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.RunCodeRequest, cancellationToken);

        var request = body;
        if (request.Code is null)
        {
            return Api.BadRequest("Field 'code' is required and must be a string.");
        }

        if (request.TimeoutMs is <= 0 or > ExecSpecFactory.MaxTimeoutMs)
        {
            return Api.BadRequest($"Field 'timeout_ms' must be a positive number of milliseconds, at most {ExecSpecFactory.MaxTimeoutMs} (49 days).");
        }

        var language = CodeLanguages.Resolve(request.Language, request.Code);
        if (language is null)
        {
            return Api.BadRequest($"unsupported language: {request.Language} (supported: python, node, bash, sh, ruby)");
        }

        var interpreter = CodeLanguages.FindInterpreter(language);
        if (interpreter is null)
        {
            return Api.BadRequest($"interpreter not found: {language.Interpreter} is not installed in this sandbox (language {language.Name}).");
        }

        var result = await runner.RunAsync(context, language, interpreter, request.Code, request.TimeoutMs, cancellationToken);
        return Api.Ok(result, ProtocolJsonContext.Default.EnvelopeRunCodeData, "code executed");
    }
}
