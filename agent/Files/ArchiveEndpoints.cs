using System.Buffers;
using System.Formats.Tar;
using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Native;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;

namespace Sandboxd.Files;

/// <summary>
/// Tar archives in and out of a directory (an extension, docs/protocol-notes.md), read and written with the BCL's
/// System.Formats.Tar. Extraction streams: each regular file goes to a temp file beside its target and is renamed into
/// place, so a reader never sees half a file. An entry that would land outside the directory — an absolute name, a
/// <c>..</c> segment, a symlink whose target leaves the directory, a hard link to a name outside it, or a path that
/// goes through a symlink — stops the extraction with 400; nothing is ever written outside the directory (entries
/// before the bad one stay, inside).
/// </summary>
internal static class ArchiveEndpoints
{
    private const int CopyBufferBytes = 1024 * 1024;

    /// <summary>
    /// <c>GET /files/archive?path=DIR</c>; without <c>path</c>, the JSON info of a file named "archive" (the protocol's route).
    /// A bare <see cref="IResult"/>: the tar is written straight to the response body as it is read from disk, and the
    /// route falls through to <see cref="RawFileEndpoints.Get"/> (docs/architecture.md, error model).
    /// </summary>
    public static async Task<IResult> GetAsync(HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        var requested = http.Request.Query["path"].ToString();
        if (requested.Length == 0)
        {
            return RawFileEndpoints.Get(http, sandbox);
        }

        if (!FilePaths.TryResolve(sandbox, requested, out var root, out var error))
        {
            return Api.BadRequest(error!);
        }

        if (!Directory.Exists(root))
        {
            return File.Exists(root) ? Api.BadRequest($"{root} is not a directory.") : Api.NotFound($"{root} does not exist.");
        }

        var ignore = new Glob(http.Request.Query["ignore"].Where(p => p is not null).Cast<string>());
        var compress = http.Request.Query["compress"].ToString() switch
        {
            "" or "none" => http.Request.Query["gzip"].ToString() is "true" or "1" ? "gzip" : "none",
            "gzip" => "gzip",
            "zstd" => "zstd",
            _ => null,
        };
        if (compress is null)
        {
            return Api.BadRequest($"compress '{http.Request.Query["compress"]}' is not one of none, gzip, zstd.");
        }

        http.Response.ContentType = compress switch { "gzip" => "application/gzip", "zstd" => "application/zstd", _ => "application/x-tar" };
        http.Response.Headers["X-Sandboxd-Archive-Root"] = Uri.EscapeDataString(root);
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        long bytes = 0;
        try
        {
            var body = http.Response.Body;
            await using Stream? compressed = compress switch
            {
                "gzip" => new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true),
                "zstd" => new ZstdSharp.CompressionStream(body, 3, leaveOpen: true),
                _ => null,
            };
            await using (var writer = new TarWriter(compressed ?? body, TarEntryFormat.Pax, leaveOpen: true))
            {
                bytes = await WriteTreeAsync(writer, root, ignore, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && !cancellationToken.IsCancellationRequested)
        {
            // The tar is half sent: cut the connection so the client sees a broken stream, never a short archive.
            http.Abort();
        }

        AgentMeter.Sent(bytes, "files.archive");
        return TypedResults.Empty;
    }

    /// <summary>Writes <paramref name="root"/>'s tree (sorted, ignored paths pruned) and returns the file bytes written.</summary>
    private static async Task<long> WriteTreeAsync(TarWriter writer, string root, Glob ignore, CancellationToken cancellationToken)
    {
        long bytes = 0;
        var pending = new Stack<string>();
        pending.Push("");
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };
        while (pending.TryPop(out var relativeDir))
        {
            var directory = relativeDir.Length == 0 ? root : Path.Combine(root, relativeDir);
            var children = new DirectoryInfo(directory).EnumerateFileSystemInfos("*", options).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            var subdirectories = new List<string>();
            foreach (var child in children)
            {
                var relative = relativeDir.Length == 0 ? child.Name : relativeDir + "/" + child.Name;
                if (ignore.IsMatch(relative))
                {
                    continue;
                }

                if (child.LinkTarget is not null)
                {
                    await writer.WriteEntryAsync(child.FullName, relative, cancellationToken).ConfigureAwait(false);
                }
                else if (child is DirectoryInfo)
                {
                    await writer.WriteEntryAsync(child.FullName, relative + "/", cancellationToken).ConfigureAwait(false);
                    subdirectories.Add(relative);
                }
                else if (LibC.IsRegularFile(child.FullName))
                {
                    await writer.WriteEntryAsync(child.FullName, relative, cancellationToken).ConfigureAwait(false);
                    bytes += ((FileInfo)child).Length;
                }

                // fifos, sockets and devices are left out: they have no content to carry
            }

            for (var i = subdirectories.Count - 1; i >= 0; i--)
            {
                pending.Push(subdirectories[i]);
            }
        }

        return bytes;
    }

    /// <summary><c>POST /files/archive?path=DIR</c>: extracts the tar (plain or gzip, detected by its magic) in the body.</summary>
    public static async Task<Results<JsonHttpResult<Envelope<ArchiveExtractData>>, JsonHttpResult<ErrorResponse>>> ExtractAsync(HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!FilePaths.TryResolve(sandbox, http.Request.Query["path"].ToString(), out var root, out var error))
        {
            return Api.BadRequest(error == "A file path is required." ? "Query parameter 'path' (the directory to extract into) is required." : error!);
        }

        if (File.Exists(root))
        {
            return Api.BadRequest($"{root} is a file, not a directory.");
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null; // streamed, never held in memory
        }

        try
        {
            Native.WorkloadUser.Current.CreateDirectory(root);
            root = new DirectoryInfo(root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? root;
            var body = await DecompressAsync(http.Request.BodyReader, cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var extractor = new Extractor(root);
                await extractor.RunAsync(body, cancellationToken).ConfigureAwait(false);
                AgentMeter.Received(extractor.Bytes, "files.archive");
                return Api.Ok(new ArchiveExtractData(root, extractor.Files, extractor.Directories, extractor.Symlinks, extractor.Skipped, extractor.Bytes),
                    ProtocolJsonContext.Default.EnvelopeArchiveExtractData, "archive extracted");
            }
        }
        catch (SandboxdException e)
        {
            return Api.Error(e); // a refused entry (Invalid), or a failure of the workload user's directory creation
        }
        catch (InvalidDataException e)
        {
            return Api.BadRequest($"The body is not a valid tar archive: {e.Message}");
        }
        catch (FormatException e)
        {
            return Api.BadRequest($"The body is not a valid tar archive: {e.Message}");
        }
        catch (ZstdSharp.ZstdException e)
        {
            return Api.BadRequest($"The body is not a valid zstd stream: {e.Message}");
        }
        catch (EndOfStreamException e)
        {
            return Api.BadRequest($"The body ends in the middle of the archive: {e.Message}");
        }
        catch (IOException e) when ((e.HResult & 0xFFFF) is 28 or 122)
        {
            return Api.Error(ErrorKind.InsufficientStorage, $"No space left on the device extracting into {root}; the file being written was removed.");
        }
        catch (UnauthorizedAccessException e)
        {
            return Api.Error(ErrorKind.Forbidden, $"Permission denied extracting into {root}: {e.Message}");
        }
        catch (BadHttpRequestException e)
        {
            return Api.Error(Api.KindOf(e.StatusCode), $"The upload was cut short ({e.Message}).");
        }
    }

    /// <summary>The body as a tar stream: gzip (1F 8B) and zstd (28 B5 2F FD) are unwrapped, streaming, when their magic is seen.</summary>
    private static async Task<Stream> DecompressAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var result = await reader.ReadAtLeastAsync(4, cancellationToken).ConfigureAwait(false);
        var head = result.Buffer.Slice(0, Math.Min(4, result.Buffer.Length)).ToArray();
        reader.AdvanceTo(result.Buffer.Start, result.Buffer.End); // peeked: nothing consumed
        var stream = reader.AsStream();
        if (head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        {
            return new GZipStream(stream, CompressionMode.Decompress);
        }

        if (head.Length >= 4 && head[0] == 0x28 && head[1] == 0xB5 && head[2] == 0x2F && head[3] == 0xFD)
        {
            return new ZstdSharp.DecompressionStream(stream, leaveOpen: false);
        }

        return stream;
    }

    /// <summary>One extraction into <c>root</c>.</summary>
    private sealed class Extractor(string root)
    {
        private readonly List<(string Path, UnixFileMode Mode)> _directoryModes = [];

        /// <summary>The directories files were renamed into: swept of stale temps before, fsynced once at the end.</summary>
        private readonly HashSet<string> _touched = new(StringComparer.Ordinal);

        public int Files { get; private set; }
        public int Directories { get; private set; }
        public int Symlinks { get; private set; }
        public int Skipped { get; private set; }
        public long Bytes { get; private set; }

        public async Task RunAsync(Stream body, CancellationToken cancellationToken)
        {
            await using var reader = new TarReader(body, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        ExtractDirectory(entry);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        await ExtractFileAsync(entry, cancellationToken).ConfigureAwait(false);
                        break;
                    case TarEntryType.SymbolicLink:
                        ExtractSymlink(entry);
                        break;
                    case TarEntryType.HardLink:
                        await ExtractHardLinkAsync(entry, cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        Skipped++; // devices, fifos, extended-attribute records
                        break;
                }
            }

            // Directory modes last, so a read-only directory does not stop its own files from being written.
            for (var i = _directoryModes.Count - 1; i >= 0; i--)
            {
                File.SetUnixFileMode(_directoryModes[i].Path, _directoryModes[i].Mode);
            }

            // Each file was fsynced before its rename; the renames are durable once their directories are.
            foreach (var directory in _touched)
            {
                LibC.TrySyncDirectory(directory);
            }
        }

        /// <summary>The segments of an entry name inside the root; refuses absolute names and "..".</summary>
        private static string[] Segments(string name, string what)
        {
            if (name.StartsWith('/') || name.Contains('\0', StringComparison.Ordinal))
            {
                throw SandboxdException.Invalid($"Refused: the archive {what} '{name}' is an absolute path; names must be relative to the directory.");
            }

            var segments = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != ".").ToArray();
            if (segments.Contains(".."))
            {
                throw SandboxdException.Invalid($"Refused: the archive {what} '{name}' contains '..' and could leave the directory.");
            }

            return segments;
        }

        /// <summary>The target path of an entry; every existing parent below the root must be a real directory (not a symlink).</summary>
        private string Target(string[] segments, string name)
        {
            var current = root;
            for (var i = 0; i < segments.Length - 1; i++)
            {
                current = Path.Combine(current, segments[i]);
                var info = new FileInfo(current);
                if (info.LinkTarget is not null)
                {
                    throw SandboxdException.Invalid($"Refused: the archive entry '{name}' would be written through the symlink {current}.");
                }

                if (info.Exists)
                {
                    throw SandboxdException.Invalid($"Refused: the archive entry '{name}' needs {current} to be a directory, but it is a file.");
                }

                if (!Directory.Exists(current))
                {
                    Native.WorkloadUser.Current.CreateDirectory(current);
                }
            }

            var target = Path.Combine(root, string.Join('/', segments));
            if (!IsInside(Path.GetFullPath(target)))
            {
                throw SandboxdException.Invalid($"Refused: the archive entry '{name}' resolves outside {root}.");
            }

            return target;
        }

        private bool IsInside(string full) => full == root || full.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

        private void ExtractDirectory(TarEntry entry)
        {
            var segments = Segments(entry.Name, "entry");
            if (segments.Length == 0)
            {
                return; // "./" — the root itself
            }

            var target = Target(segments, entry.Name);
            if (new FileInfo(target).LinkTarget is not null)
            {
                throw SandboxdException.Invalid($"Refused: the archive directory '{entry.Name}' exists as a symlink ({target}).");
            }

            Native.WorkloadUser.Current.CreateDirectory(target);
            _directoryModes.Add((target, entry.Mode | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.UserRead));
            Directories++;
        }

        private async Task ExtractFileAsync(TarEntry entry, CancellationToken cancellationToken)
        {
            var segments = Segments(entry.Name, "entry");
            if (segments.Length == 0)
            {
                throw SandboxdException.Invalid($"Refused: the archive file entry '{entry.Name}' has no name.");
            }

            var target = Target(segments, entry.Name);
            await WriteAtomicallyAsync(target, entry.DataStream, entry.Mode, entry.ModificationTime, cancellationToken).ConfigureAwait(false);
            Files++;
            Bytes += entry.Length;
        }

        private async Task WriteAtomicallyAsync(string target, Stream? data, UnixFileMode mode, DateTimeOffset modified, CancellationToken cancellationToken)
        {
            if (Directory.Exists(target) && new FileInfo(target).LinkTarget is null)
            {
                throw SandboxdException.Invalid($"Refused: the archive file {target} exists as a directory.");
            }

            var directory = Path.GetDirectoryName(target)!;
            if (_touched.Add(directory))
            {
                UploadTemps.Sweep(directory);
            }

            var temp = UploadTemps.Begin(target);
            var renamed = false;
            try
            {
                await using (var file = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                    BufferSize = 0,
                }))
                {
                    if (data is not null)
                    {
                        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
                        try
                        {
                            int read;
                            while ((read = await data.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
                            {
                                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                            }
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }
                    }

                    file.Flush(flushToDisk: true);
                }

                File.SetUnixFileMode(temp, mode & (UnixFileMode)0x1FF);
                File.SetLastWriteTimeUtc(temp, modified.UtcDateTime);
                Native.WorkloadUser.Current.Claim(temp);
                File.Move(temp, target, overwrite: true); // rename(2): replaces a symlink at target itself, never its target
                renamed = true;
            }
            finally
            {
                if (!renamed)
                {
                    RawFileEndpoints.TryDelete(temp);
                }

                UploadTemps.Done(temp);
            }
        }

        private void ExtractSymlink(TarEntry entry)
        {
            var segments = Segments(entry.Name, "entry");
            var target = Target(segments, entry.Name);
            var link = entry.LinkName;
            if (link.Length == 0 || link.StartsWith('/'))
            {
                throw SandboxdException.Invalid($"Refused: the archive symlink '{entry.Name}' points to '{link}', outside the directory.");
            }

            var resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(target)!, link));
            if (!IsInside(resolved))
            {
                throw SandboxdException.Invalid($"Refused: the archive symlink '{entry.Name}' points to '{link}', outside the directory.");
            }

            var existing = new FileInfo(target);
            if (existing.LinkTarget is not null || existing.Exists)
            {
                existing.Delete();
            }
            else if (Directory.Exists(target))
            {
                throw SandboxdException.Invalid($"Refused: the archive symlink '{entry.Name}' would replace the directory {target}.");
            }

            File.CreateSymbolicLink(target, link);
            Native.WorkloadUser.Current.Claim(target);
            Symlinks++;
        }

        private async Task ExtractHardLinkAsync(TarEntry entry, CancellationToken cancellationToken)
        {
            var target = Target(Segments(entry.Name, "entry"), entry.Name);
            var sourceSegments = Segments(entry.LinkName, "hard link target");
            var source = Target(sourceSegments, entry.LinkName);
            if (!LibC.IsRegularFile(source))
            {
                throw SandboxdException.Invalid($"Refused: the archive hard link '{entry.Name}' names '{entry.LinkName}', which is not a regular file extracted into the directory.");
            }

            // A copy, not link(2): the content is the same and no name outside the archive's tree can be linked.
            await using var data = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            await WriteAtomicallyAsync(target, data, File.GetUnixFileMode(source), File.GetLastWriteTimeUtc(source), cancellationToken).ConfigureAwait(false);
            Files++;
        }
    }
}
