using System.Text;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>
/// Files (<c>/files…</c>). The protocol carries file content as UTF-8 <b>text</b>: writes send text, reads return the
/// file decoded as UTF-8 (invalid bytes become U+FFFD). <see cref="WriteBytesAsync"/> therefore accepts only valid UTF-8
/// and <see cref="ReadBytesAsync"/> returns the UTF-8 encoding of that text: binary files do not round-trip.
/// Relative paths resolve against the sandbox root.
/// </summary>
public sealed partial class FilesClient
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly SandboxClient _client;

    internal FilesClient(SandboxClient client) => _client = client;

    /// <summary>The direct children of a directory (<c>GET /files?path=</c>), sorted by name.</summary>
    public async Task<FileListData> ListAsync(string path = "/", CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Get, "/files?path=" + Uri.EscapeDataString(path),
            ProtocolJsonContext.Default.EnvelopeFileListData, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>Metadata of a file or directory.</summary>
    public async Task<FileEntry> GetInfoAsync(string path, CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Get, FilePath(path),
            ProtocolJsonContext.Default.EnvelopeFileData, cancellationToken).ConfigureAwait(false);
        return envelope.Data.File;
    }

    /// <summary>The content of a file as text.</summary>
    public async Task<string> ReadTextAsync(string path, CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Get, FilePath(path) + "?content=true",
            ProtocolJsonContext.Default.EnvelopeFileData, cancellationToken).ConfigureAwait(false);
        return envelope.Data.Content ?? "";
    }

    /// <summary>The content of a file as UTF-8 bytes of its text (lossy for non-UTF-8 files, see the class remarks).</summary>
    public async Task<byte[]> ReadBytesAsync(string path, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetBytes(await ReadTextAsync(path, cancellationToken).ConfigureAwait(false));

    /// <summary>Creates or overwrites a file with <paramref name="content"/> (parents are created).</summary>
    public async Task<FileEntry> WriteTextAsync(string path, string content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return await WriteAsync(new WriteFileRequest(path, content), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes bytes that must be valid UTF-8 (the protocol has no binary write); anything else throws <see cref="ArgumentException"/>.</summary>
    public Task<FileEntry> WriteBytesAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(content.Span);
        }
        catch (DecoderFallbackException e)
        {
            throw new ArgumentException(
                "The protocol writes files as UTF-8 text; these bytes are not valid UTF-8 (binary content cannot be written without corruption).",
                nameof(content), e);
        }

        return WriteTextAsync(path, text, cancellationToken);
    }

    /// <summary>Creates an empty file if missing; leaves an existing one untouched.</summary>
    public Task<FileEntry> TouchAsync(string path, CancellationToken cancellationToken = default) =>
        WriteAsync(new WriteFileRequest(path), cancellationToken);

    private async Task<FileEntry> WriteAsync(WriteFileRequest request, CancellationToken cancellationToken)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/files", request,
            ProtocolJsonContext.Default.WriteFileRequest, ProtocolJsonContext.Default.EnvelopeFileData, cancellationToken).ConfigureAwait(false);
        return envelope.Data.File;
    }

    /// <summary>Several writes/deletes at once (<c>POST /files/batch</c>): one result per distinct path; partial failure is not an exception.</summary>
    public async Task<IReadOnlyList<BatchFileResult>> BatchAsync(IReadOnlyList<BatchFileOperation> operations, CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/files/batch", new BatchFilesRequest(operations),
            ProtocolJsonContext.Default.BatchFilesRequest, ProtocolJsonContext.Default.EnvelopeBatchFilesData, cancellationToken).ConfigureAwait(false);
        return envelope.Data.Results;
    }

    /// <summary>True if the file or directory exists (<c>HEAD</c>).</summary>
    public Task<bool> ExistsAsync(string path, CancellationToken cancellationToken = default) =>
        _client.Transport.ExistsAsync(FilePath(path), cancellationToken);

    /// <summary>Deletes a file, a symlink, or a directory recursively.</summary>
    public Task DeleteAsync(string path, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, FilePath(path), cancellationToken);

    /// <summary>
    /// <c>/files/</c> + the path as the official client encodes it: empty segments dropped, each segment
    /// percent-encoded, a leading <c>/</c> kept (so absolute paths give <c>/files//abs/path</c>).
    /// </summary>
    internal static string FilePath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.EscapeDataString);
        return "/files/" + (path.StartsWith('/') ? "/" : "") + string.Join('/', segments);
    }
}
