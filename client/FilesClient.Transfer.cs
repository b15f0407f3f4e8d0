using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>How a directory's tar is compressed on the wire (<see cref="FilesClient.UploadDirectoryAsync"/>, <see cref="FilesClient.DownloadDirectoryAsync"/>).</summary>
public enum ArchiveCompression
{
    /// <summary>A plain tar.</summary>
    None,

    /// <summary>gzip (fast level).</summary>
    Gzip,

    /// <summary>zstd (level 3): about gzip's ratio at several times its speed.</summary>
    Zstd,
}

/// <summary>Raw bytes and tar archives (sandboxd extensions: <c>PUT /files/{path}</c>, raw GET, <c>/files/archive</c>).</summary>
public sealed partial class FilesClient
{
    private const int CopyBufferBytes = 1024 * 1024;

    /// <summary>
    /// Streams <paramref name="content"/> into a file, byte for byte (binary-safe, no size cap): the agent writes a temp
    /// file, fsyncs and renames it into place. <paramref name="ifMatch"/> (an ETag) makes it conditional (412 →
    /// <see cref="SandboxdException"/>). Progress reports the bytes sent so far.
    /// </summary>
    public async Task<FileEntry> UploadAsync(string path, Stream content, IProgress<long>? progress = null, string? mode = null,
        string? ifMatch = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var query = mode is null ? "" : "?mode=" + Uri.EscapeDataString(mode);
        using var body = new StreamingContent((destination, ct) => CopyAsync(content, destination, progress, ct),
            content.CanSeek ? content.Length - content.Position : null);
        var envelope = await _client.Transport.SendContentAsync(HttpMethod.Put, FilePath(path) + query, body,
            ProtocolJsonContext.Default.EnvelopeFileData, cancellationToken,
            ifMatch is null ? null : r => r.Headers.TryAddWithoutValidation("If-Match", ifMatch)).ConfigureAwait(false);
        return envelope.Data.File;
    }

    /// <summary>Opens a file's exact bytes as a stream (dispose it to end the transfer).</summary>
    public async Task<Stream> DownloadAsync(string path, CancellationToken cancellationToken = default)
    {
        var response = await _client.Transport.OpenAsync(FilePath(path) + "?raw=true", "application/octet-stream", cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new ResponseStream(response, stream);
    }

    /// <summary>Copies a file's bytes into <paramref name="destination"/>, reporting the bytes received; returns how many.</summary>
    public async Task<long> DownloadToAsync(string path, Stream destination, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        await using var source = await DownloadAsync(path, cancellationToken).ConfigureAwait(false);
        return await CopyAsync(source, destination, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a local directory as a tar and extracts it into <paramref name="remoteDirectory"/> (created if missing).
    /// <paramref name="compression"/> compresses the tar on the way (the agent recognises gzip and zstd by their magic);
    /// progress counts the tar's bytes before compression.
    /// </summary>
    public async Task<ArchiveExtractData> UploadDirectoryAsync(string localDirectory, string remoteDirectory, IProgress<long>? progress = null,
        ArchiveCompression compression = ArchiveCompression.None, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(localDirectory))
        {
            throw new DirectoryNotFoundException($"{localDirectory} is not a directory.");
        }

        using var body = new StreamingContent(async (destination, ct) =>
        {
            await using var compressed = Compress(destination, compression);
            await using var counting = new ProgressStream(compressed ?? destination, progress);
            await TarFile.CreateFromDirectoryAsync(localDirectory, counting, includeBaseDirectory: false, ct).ConfigureAwait(false);
        }, null);
        var envelope = await _client.Transport.SendContentAsync(HttpMethod.Post, "/files/archive?path=" + Uri.EscapeDataString(remoteDirectory), body,
            ProtocolJsonContext.Default.EnvelopeArchiveExtractData, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>
    /// Fetches <paramref name="remoteDirectory"/> as a tar (ignored names pruned) and extracts it into
    /// <paramref name="localDirectory"/>; <paramref name="compression"/> asks the agent to compress it on the way
    /// (<c>?compress=gzip|zstd</c>). Progress counts the tar's bytes after decompression.
    /// </summary>
    public async Task DownloadDirectoryAsync(string remoteDirectory, string localDirectory, IEnumerable<string>? ignore = null,
        IProgress<long>? progress = null, ArchiveCompression compression = ArchiveCompression.None, CancellationToken cancellationToken = default)
    {
        var query = "/files/archive?path=" + Uri.EscapeDataString(remoteDirectory)
            + string.Concat((ignore ?? []).Select(p => "&ignore=" + Uri.EscapeDataString(p)))
            + compression switch { ArchiveCompression.Gzip => "&compress=gzip", ArchiveCompression.Zstd => "&compress=zstd", _ => "" };
        using var response = await _client.Transport.OpenAsync(query, "application/x-tar", cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using Stream decompressed = compression switch
        {
            ArchiveCompression.Gzip => new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true),
            ArchiveCompression.Zstd => new ZstdSharp.DecompressionStream(stream, leaveOpen: true),
            _ => stream,
        };
        await using var counting = new ProgressStream(decompressed, progress);
        Directory.CreateDirectory(localDirectory);
        await TarFile.ExtractToDirectoryAsync(counting, localDirectory, overwriteFiles: true, cancellationToken).ConfigureAwait(false);
    }

    private static Stream? Compress(Stream destination, ArchiveCompression compression) => compression switch
    {
        ArchiveCompression.Gzip => new GZipStream(destination, CompressionLevel.Fastest, leaveOpen: true),
        ArchiveCompression.Zstd => new ZstdSharp.CompressionStream(destination, 3, leaveOpen: true),
        _ => null,
    };

    private static async Task<long> CopyAsync(Stream source, Stream destination, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var buffer = new byte[CopyBufferBytes];
        long total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            total += read;
            progress?.Report(total);
        }

        return total;
    }

    /// <summary>A request body written by a callback straight onto the connection (nothing buffered).</summary>
    private sealed class StreamingContent : HttpContent
    {
        private readonly Func<Stream, CancellationToken, Task> _write;
        private readonly long? _length;

        public StreamingContent(Func<Stream, CancellationToken, Task> write, long? length)
        {
            _write = write;
            _length = length;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _write(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _write(stream, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = _length ?? 0;
            return _length is not null;
        }
    }

    /// <summary>Counts the bytes going through (either way) and reports the running total.</summary>
    private sealed class ProgressStream(Stream inner, IProgress<long>? progress) : Stream
    {
        private long _total;

        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _total; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count(count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Count(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private int Count(int n)
        {
            _total += n;
            if (n > 0)
            {
                progress?.Report(_total);
            }

            return n;
        }
    }

    /// <summary>The body of a response that is disposed with it.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.Content.Headers.ContentLength ?? throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
