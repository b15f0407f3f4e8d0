using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Microsoft.Win32.SafeHandles;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Native;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;

namespace Sandboxd.Files;

/// <summary>
/// Raw bytes in and out of files (an extension, docs/protocol-notes.md): <c>GET /files/{path}</c> with
/// <c>Accept: application/octet-stream</c> or <c>?raw=true</c> streams the file (Range, ETag, Last-Modified, sendfile),
/// <c>PUT /files/{path}</c> streams the body into a temp file beside the target, fsyncs it and renames it into place.
/// The ETag is <c>"&lt;inode&gt;-&lt;size&gt;-&lt;mtime ns&gt;"</c> (hex): cheap, and it changes with every replace
/// because a replace is a rename of a new inode.
/// </summary>
internal static class RawFileEndpoints
{
    /// <summary>Serialises the last step of a PUT (re-check If-Match, rename) so two conditional writers never both win.</summary>
    private static readonly Lock CommitGate = new();

    private const int CopyBufferBytes = 1024 * 1024;

    /// <summary>Below Kestrel's request buffer limit (1 MiB), so the pipe never pauses short of it.</summary>
    private const int WriteBatchBytes = 512 * 1024;

    /// <summary>
    /// The one GET route for <c>/files/{path}</c>: raw bytes when asked for, the protocol's JSON otherwise. It stays a bare
    /// <see cref="IResult"/> because it only picks between two typed handlers (docs/architecture.md, error model).
    /// </summary>
    public static IResult Get(HttpContext http, SandboxContext sandbox) =>
        WantsRaw(http.Request) ? GetRaw(http, sandbox) : FileEndpoints.Get(http, sandbox);

    private static bool WantsRaw(HttpRequest request)
    {
        if (request.Query["raw"].ToString() is "true" or "1")
        {
            return true;
        }

        foreach (var accept in request.GetTypedHeaders().Accept)
        {
            if (accept.MediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static string ETagOf(FileIdentity identity) =>
        string.Create(CultureInfo.InvariantCulture, $"\"{identity.Inode:x}-{identity.Size:x}-{identity.ModifiedNs:x}\"");

    private static Results<PhysicalFileHttpResult, JsonHttpResult<ErrorResponse>> GetRaw(HttpContext http, SandboxContext sandbox)
    {
        if (!FilePaths.TryGetRoutePath(http, sandbox, out var path, out var error))
        {
            return Api.BadRequest(error!);
        }

        if (!LibC.TryGetFileIdentity(path, out var identity))
        {
            return Api.NotFound($"{path} does not exist.");
        }

        if (!identity.IsRegular)
        {
            return Api.BadRequest(identity.IsDirectory
                ? $"{path} is a directory; fetch it as a tar with GET /files/archive?path= instead."
                : $"{path} is not a regular file.");
        }

        if (http.Request.Headers.IfMatch.Count > 0 && !Matches(http.Request.Headers.IfMatch.ToString(), identity))
        {
            return Api.Error(ErrorKind.PreconditionFailed, $"{path} has changed (If-Match does not match its ETag).");
        }

        AgentMeter.Sent(identity.Size, "files.raw");
        if (http.Features.Get<IHttpResponseBodyFeature>() is { } body)
        {
            http.Features.Set<IHttpResponseBodyFeature>(new FastSendFile(body));
        }

        // PhysicalFile answers Range (206/416), If-None-Match/If-Modified-Since (304) and If-Range; FastSendFile sends the bytes.
        return TypedResults.PhysicalFile(path, "application/octet-stream", fileDownloadName: null,
            lastModified: identity.Modified, entityTag: new EntityTagHeaderValue(ETagOf(identity)), enableRangeProcessing: true);
    }

    public static async Task<Results<JsonHttpResult<Envelope<FileData>>, JsonHttpResult<ErrorResponse>>> PutAsync(HttpContext http, SandboxContext sandbox, AgentOptions options, CancellationToken cancellationToken)
    {
        if (ReadPutTarget(http, sandbox, out var path, out var requestedMode) is { } invalid)
        {
            return invalid;
        }

        path = ThroughLinks(path);
        var exists = LibC.TryGetFileIdentity(path, out var before);
        var precondition = CheckPreconditions(http.Request, path, exists ? before : null);
        if (precondition is not null)
        {
            return precondition;
        }

        // This route streams: the agent-wide --max-body limit is for JSON bodies held in memory.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        var directory = Path.GetDirectoryName(path) ?? "/";
        if (CreateParent(directory) is { } parentFailed)
        {
            return parentFailed;
        }

        var guard = new DiskGuard(directory, options.MinFreeDiskBytes);
        if (http.Request.ContentLength is { } length && !guard.Fits(length))
        {
            return InsufficientStorage(path, guard);
        }

        var mode = requestedMode ?? (exists ? (UnixFileMode)(before.Mode & 0xFFF) : (UnixFileMode)0b110_100_100);
        return await WriteAndCommitAsync(http, path, exists, mode, guard, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The file path of the route and the <c>?mode=</c> asked for; an error result when either is not usable.</summary>
    private static JsonHttpResult<ErrorResponse>? ReadPutTarget(HttpContext http, SandboxContext sandbox, out string path, out UnixFileMode? requestedMode)
    {
        requestedMode = null;
        if (!FilePaths.TryGetRoutePath(http, sandbox, out path, out var error))
        {
            return Api.BadRequest(error!);
        }

        if (Directory.Exists(path))
        {
            return Api.BadRequest($"{path} is a directory.");
        }

        if (http.Request.Query["mode"].ToString() is { Length: > 0 } modeText)
        {
            if (!TryParseMode(modeText, out var parsed))
            {
                return Api.BadRequest($"mode '{modeText}' is not an octal file mode such as 0644.");
            }

            requestedMode = parsed;
        }

        return null;
    }

    /// <summary>Creates the target's parent directories (as the workload user); an error result when it cannot.</summary>
    private static JsonHttpResult<ErrorResponse>? CreateParent(string directory)
    {
        try
        {
            if (File.Exists(directory))
            {
                return Api.BadRequest($"Cannot create parent directory {directory}: a file with that name exists.");
            }

            WorkloadUser.Current.CreateDirectory(directory);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Api.Error(e is UnauthorizedAccessException ? ErrorKind.Forbidden : ErrorKind.Invalid, $"Cannot create parent directory {directory}: {e.Message}");
        }
    }

    /// <summary>
    /// Streams the body into a temp file beside <paramref name="path"/> (fsynced, with its exact mode), then, under the
    /// commit gate, checks the preconditions again and renames it into place. The temp file never outlives a failure.
    /// </summary>
    private static async Task<Results<JsonHttpResult<Envelope<FileData>>, JsonHttpResult<ErrorResponse>>> WriteAndCommitAsync(
        HttpContext http, string path, bool exists, UnixFileMode mode, DiskGuard guard, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(path) ?? "/";
        var temp = UploadTemps.Begin(path);
        UploadTemps.Sweep(directory);
        var committed = false;
        try
        {
            var written = await WriteTempAsync(http.Request.BodyReader, temp, mode, guard, cancellationToken).ConfigureAwait(false);
            if (written < 0)
            {
                return InsufficientStorage(path, guard);
            }

            lock (CommitGate)
            {
                var nowExists = LibC.TryGetFileIdentity(path, out var now);
                var late = CheckPreconditions(http.Request, path, nowExists ? now : null);
                if (late is not null)
                {
                    return late;
                }

                File.Move(temp, path, overwrite: true);
                committed = true;
            }

            // The rename is durable only once the directory is: without this a crash can bring back the old file (or none).
            LibC.TrySyncDirectory(directory);

            AgentMeter.Received(written, "files.raw");
            LibC.TryGetFileIdentity(path, out var after);
            http.Response.Headers.ETag = ETagOf(after);
            http.Response.Headers.LastModified = after.Modified.ToString("R", CultureInfo.InvariantCulture);
            return Api.Ok(new FileData(FileOps.Describe(path)), ProtocolJsonContext.Default.EnvelopeFileData,
                exists ? "file written" : "file created", exists ? StatusCodes.Status200OK : StatusCodes.Status201Created);
        }
        catch (IOException e) when ((e.HResult & 0xFFFF) is 28 or 122)
        {
            return InsufficientStorage(path, guard);
        }
        catch (UnauthorizedAccessException)
        {
            return Api.Error(ErrorKind.Forbidden, $"Permission denied: {path}.");
        }
        catch (BadHttpRequestException e)
        {
            return Api.Error(Api.KindOf(e.StatusCode), $"The upload of {path} was cut short ({e.Message}); nothing was written.");
        }
        finally
        {
            if (!committed)
            {
                TryDelete(temp);
            }

            UploadTemps.Done(temp);
        }
    }

    /// <summary>Writes the body to a new temp file, fsyncs it and gives it <paramref name="mode"/>; -1 when the disk guard refused.</summary>
    private static async Task<long> WriteTempAsync(PipeReader body, string temp, UnixFileMode mode, DiskGuard guard, CancellationToken cancellationToken)
    {
        long written;
        await using (var file = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = mode,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        }))
        {
            written = await CopyAsync(body, file.SafeFileHandle, guard, cancellationToken).ConfigureAwait(false);
            if (written < 0)
            {
                return -1;
            }

            file.Flush(flushToDisk: true);
        }

        TransferMemory.AfterTransfer(written);

        File.SetUnixFileMode(temp, mode); // the umask applied at create; the asked (or kept) mode is exact
        WorkloadUser.Current.Claim(temp);
        return written;
    }

    /// <summary>
    /// Copies the body, checking the disk guard every 16 MiB; -1 when the guard refuses (the caller answers 507). Reads
    /// at least <see cref="WriteBatchBytes"/> from Kestrel's pipe (its 4 KiB segments) and writes them with one pwritev:
    /// no copy, and ~1 write per 512 KiB instead of one per socket read (strace -c: 1657 pwrite64 for 64 MiB before).
    /// What has been written is flushed to disk in the background as the body arrives (<see cref="BackgroundFlush"/>).
    /// </summary>
    private static async Task<long> CopyAsync(PipeReader body, SafeFileHandle file, DiskGuard guard, CancellationToken cancellationToken)
    {
        var segments = new List<ReadOnlyMemory<byte>>(WriteBatchBytes / 4096 + 8);
        long total = 0;
        long sinceCheck = 0;
        var flusher = new BackgroundFlush(file);
        while (true)
        {
            var result = await body.ReadAtLeastAsync(WriteBatchBytes, cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                if (buffer.Length > 0)
                {
                    sinceCheck += buffer.Length;
                    if (sinceCheck >= 16 * CopyBufferBytes)
                    {
                        if (!guard.Fits(sinceCheck))
                        {
                            return -1;
                        }

                        sinceCheck = 0;
                    }

                    segments.Clear();
                    foreach (var segment in buffer)
                    {
                        segments.Add(segment);
                    }

                    await RandomAccess.WriteAsync(file, segments, total, cancellationToken).ConfigureAwait(false);
                    total += buffer.Length;
                    flusher.Written(total);
                }
            }
            finally
            {
                body.AdvanceTo(buffer.End);
            }

            if (result.IsCompleted)
            {
                await flusher.CompleteAsync().ConfigureAwait(false);
                return total;
            }
        }
    }

    private static JsonHttpResult<ErrorResponse> InsufficientStorage(string path, DiskGuard guard) =>
        Api.Error(ErrorKind.InsufficientStorage,
            $"Not enough free disk space to write {path} (available {guard.Available()} bytes, kept free {guard.Reserve} bytes, --min-free-disk); nothing was written.");

    /// <summary>If-Match (412 when the file's ETag differs or it does not exist) and If-None-Match: * (412 when it exists).</summary>
    private static JsonHttpResult<ErrorResponse>? CheckPreconditions(HttpRequest request, string path, FileIdentity? current)
    {
        var ifMatch = request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0 && (current is not { } c || !Matches(ifMatch, c)))
        {
            return Api.Error(ErrorKind.PreconditionFailed, current is null
                ? $"{path} does not exist (If-Match needs the current version)."
                : $"{path} has changed (If-Match does not match its ETag {ETagOf(current.Value)}).");
        }

        if (request.Headers.IfNoneMatch.ToString().Trim() == "*" && current is not null)
        {
            return Api.Error(ErrorKind.PreconditionFailed, $"{path} already exists (If-None-Match: *).");
        }

        return null;
    }

    private static bool Matches(string header, FileIdentity identity)
    {
        var etag = ETagOf(identity);
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "*" || part == etag || (part.StartsWith("W/", StringComparison.Ordinal) && part[2..] == etag))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryParseMode(string text, out UnixFileMode mode)
    {
        mode = 0;
        try
        {
            var value = Convert.ToInt32(text, 8);
            if (value is < 0 or > 0xFFF)
            {
                return false;
            }

            mode = (UnixFileMode)value;
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>Writes go through symlinks, as with open(2) and POST /files.</summary>
    private static string ThroughLinks(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.LinkTarget is null ? path : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a temp file the agent could not remove
        }
    }
}

/// <summary>The disk-space guard of streamed writes: a write must leave <see cref="Reserve"/> bytes free (--min-free-disk).</summary>
internal sealed class DiskGuard(string directory, long reserve)
{
    public long Reserve { get; } = reserve;

    public long Available() => LibC.AvailableBytes(directory);

    public bool Fits(long more)
    {
        var available = Available();
        return available < 0 || available - more >= Reserve;
    }
}
