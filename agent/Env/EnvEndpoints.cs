using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.FileSystem;
using Sandboxd.Protocol;

namespace Sandboxd.Env;

internal static class EnvEndpoints
{
    /// <summary>A variable name: a letter or <c>_</c>, then letters, digits, <c>_</c> and <c>.</c>.</summary>
    private static bool IsValidKey(string key)
    {
        if (key.Length == 0 || !(char.IsAsciiLetter(key[0]) || key[0] == '_'))
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryGetFile(HttpContext http, SandboxContext sandbox, out string file, out string path, [NotNullWhen(false)] out JsonHttpResult<ErrorResponse>? error)
    {
        file = http.Request.Query["file"].ToString();
        path = "";
        error = null;
        if (string.IsNullOrEmpty(file))
        {
            error = Api.BadRequest("Query parameter 'file' is required (e.g. /env?file=.env).");
            return false;
        }

        if (!FilePaths.TryResolve(sandbox, file, out path, out var message))
        {
            error = Api.BadRequest(message!);
            return false;
        }

        if (Directory.Exists(path))
        {
            error = Api.BadRequest($"{file} is a directory, not an env file.");
            return false;
        }

        return true;
    }

    public static Results<JsonHttpResult<Envelope<EnvData>>, JsonHttpResult<ErrorResponse>> Get(HttpContext http, SandboxContext sandbox)
    {
        if (!TryGetFile(http, sandbox, out var file, out var path, out var error))
        {
            return error;
        }

        if (!File.Exists(path))
        {
            return Api.NotFound($"Env file {file} does not exist.");
        }

        var variables = EnvFile.Parse(FileOps.ReadText(path)).Variables();
        return Api.Ok(new EnvData(file, variables), ProtocolJsonContext.Default.EnvelopeEnvData);
    }

    public static StatusCodeHttpResult Head(HttpContext http, SandboxContext sandbox) =>
        TryGetFile(http, sandbox, out _, out var path, out _) && File.Exists(path)
            ? TypedResults.StatusCode(StatusCodes.Status200OK)
            : TypedResults.StatusCode(StatusCodes.Status404NotFound);

    public static async Task<Results<JsonHttpResult<Envelope<EnvKeysData>>, JsonHttpResult<ErrorResponse>>> SetAsync(HttpContext http, SandboxContext sandbox, EnvFileLocks locks, CancellationToken cancellationToken)
    {
        if (!TryGetFile(http, sandbox, out var file, out var path, out var error))
        {
            return error;
        }

        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.EnvUpdateRequest, cancellationToken);

        if (body.Variables is not { } variables)
        {
            return Api.BadRequest("Field 'variables' is required and must be an object of strings.");
        }

        if (variables.FirstOrDefault(v => v.Value is null).Key is { } nullValued)
        {
            return Api.BadRequest($"Field 'variables' must be an object of strings: '{nullValued}' is null (DELETE /env removes a variable).");
        }

        if (variables.Keys.FirstOrDefault(k => !IsValidKey(k)) is { } bad)
        {
            return Api.BadRequest($"Invalid variable name '{bad}': use letters, digits, '_' and '.', not starting with a digit.");
        }

        using var _ = await locks.AcquireAsync(path, cancellationToken);
        var env = File.Exists(path) ? EnvFile.Parse(FileOps.ReadText(path)) : EnvFile.Parse("");
        env.Set(variables);
        FileOps.Write(path, env.ToString());
        return Api.Ok(new EnvKeysData(file, [.. variables.Keys]), ProtocolJsonContext.Default.EnvelopeEnvKeysData, "environment updated");
    }

    public static async Task<Results<JsonHttpResult<Envelope<EnvKeysData>>, JsonHttpResult<ErrorResponse>>> DeleteAsync(HttpContext http, SandboxContext sandbox, EnvFileLocks locks, CancellationToken cancellationToken)
    {
        if (!TryGetFile(http, sandbox, out var file, out var path, out var error))
        {
            return error;
        }

        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.EnvDeleteRequest, cancellationToken);

        if (body.Keys is not { } keys)
        {
            return Api.BadRequest("Field 'keys' is required and must be an array of strings.");
        }

        using var _ = await locks.AcquireAsync(path, cancellationToken);
        if (!File.Exists(path))
        {
            return Api.NotFound($"Env file {file} does not exist.");
        }

        var env = EnvFile.Parse(FileOps.ReadText(path));
        var removed = env.Remove(keys);
        FileOps.Write(path, env.ToString());
        return Api.Ok(new EnvKeysData(file, removed), ProtocolJsonContext.Default.EnvelopeEnvKeysData, "keys removed");
    }
}
