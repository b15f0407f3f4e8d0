using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Protocol;

namespace Sandboxd.Files;

internal static class FileEndpoints
{
    public static Results<JsonHttpResult<Envelope<FileListData>>, JsonHttpResult<ErrorResponse>> List(HttpContext http, SandboxContext sandbox)
    {
        var requested = http.Request.Query["path"].ToString();
        if (!FilePaths.TryResolve(sandbox, string.IsNullOrEmpty(requested) ? "/" : requested, out var path, out var error))
        {
            return Api.BadRequest(error!);
        }

        return Api.Ok(new FileListData(path, FileOps.List(path)), ProtocolJsonContext.Default.EnvelopeFileListData);
    }

    public static async Task<Results<JsonHttpResult<Envelope<FileData>>, JsonHttpResult<ErrorResponse>>> WriteAsync(HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.WriteFileRequest, cancellationToken);

        if (!FilePaths.TryResolve(sandbox, body.Path, out var path, out var error))
        {
            return Api.BadRequest(error == "A file path is required." ? "Field 'path' is required and must be a non-empty string." : error!);
        }

        var existed = FileOps.Exists(path);
        return Api.Ok(new FileData(FileOps.Write(path, body.Content)), ProtocolJsonContext.Default.EnvelopeFileData,
            existed ? "file written" : "file created", existed ? StatusCodes.Status200OK : StatusCodes.Status201Created);
    }

    public static Results<JsonHttpResult<Envelope<FileData>>, JsonHttpResult<ErrorResponse>> Get(HttpContext http, SandboxContext sandbox)
    {
        if (!FilePaths.TryGetRoutePath(http, sandbox, out var path, out var error))
        {
            return Api.BadRequest(error!);
        }

        if (!FileOps.Exists(path))
        {
            return Api.NotFound($"{path} does not exist.");
        }

        var withContent = http.Request.Query["content"].ToString() is "true" or "1";
        var content = withContent ? FileOps.ReadText(path) : null;
        return Api.Ok(new FileData(FileOps.Describe(path), content), ProtocolJsonContext.Default.EnvelopeFileData);
    }

    public static StatusCodeHttpResult Head(HttpContext http, SandboxContext sandbox)
    {
        if (!FilePaths.TryGetRoutePath(http, sandbox, out var path, out _))
        {
            return TypedResults.StatusCode(StatusCodes.Status400BadRequest);
        }

        return TypedResults.StatusCode(FileOps.Exists(path) ? StatusCodes.Status200OK : StatusCodes.Status404NotFound);
    }

    public static Results<NoContent, JsonHttpResult<ErrorResponse>> Delete(HttpContext http, SandboxContext sandbox)
    {
        if (!FilePaths.TryGetRoutePath(http, sandbox, out var path, out var error))
        {
            return Api.BadRequest(error!);
        }

        if (path == "/" || path == sandbox.Root)
        {
            return Api.BadRequest($"Refusing to delete {path}: it is the filesystem root or the sandbox root.");
        }

        FileOps.Delete(path);
        return Api.NoContent();
    }

    public static async Task<Results<JsonHttpResult<Envelope<BatchFilesData>>, JsonHttpResult<ErrorResponse>>> BatchAsync(HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.BatchFilesRequest, cancellationToken);

        if (body.Files is not { } files)
        {
            return Api.BadRequest("Field 'files' is required and must be an array of {path, operation, content?}.");
        }

        // The last operation for a path wins; paths are processed in ordinal order; one result per distinct path.
        var last = new Dictionary<string, BatchFileOperation>(StringComparer.Ordinal);
        var invalid = new List<BatchFileResult>();
        foreach (var op in files)
        {
            if (op is null || string.IsNullOrEmpty(op.Path))
            {
                invalid.Add(new BatchFileResult(op?.Path ?? "", false, "path is required"));
                continue;
            }

            last[op.Path] = op;
        }

        var results = new List<BatchFileResult>(last.Count + invalid.Count);
        results.AddRange(invalid);
        foreach (var (requested, op) in last.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            results.Add(Apply(sandbox, requested, op));
        }

        var failed = results.Any(r => !r.Success);
        return Api.Ok(new BatchFilesData(results), ProtocolJsonContext.Default.EnvelopeBatchFilesData,
            failed ? "some operations failed" : "all operations succeeded", failed ? StatusCodes.Status207MultiStatus : StatusCodes.Status200OK);
    }

    private static BatchFileResult Apply(SandboxContext sandbox, string requested, BatchFileOperation op)
    {
        if (!FilePaths.TryResolve(sandbox, requested, out var path, out var error))
        {
            return new BatchFileResult(requested, false, error);
        }

        try
        {
            switch (op.Operation)
            {
                case "write":
                    return new BatchFileResult(requested, true, File: FileOps.Write(path, op.Content ?? ""));
                case "delete":
                    if (!FileOps.Exists(path) && new FileInfo(path).LinkTarget is null)
                    {
                        return new BatchFileResult(requested, false, "not found");
                    }

                    FileOps.Delete(path);
                    return new BatchFileResult(requested, true);
                default:
                    return new BatchFileResult(requested, false, $"unknown operation '{op.Operation}' (use write or delete)");
            }
        }
        catch (SandboxdException e)
        {
            return new BatchFileResult(requested, false, e.Message);
        }
    }
}
