using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Sandboxd.Files;

/// <summary>
/// The raw GET's <c>SendFileAsync</c> (docs/adr/0014-raw-download.md): Kestrel has no sendfile(2) and its fallback copies the
/// file through the response stream in small reads, each written and flushed on its own. This reads 256 KiB at a time
/// with <see cref="RandomAccess"/> into one pooled buffer and writes each chunk to the body pipe, so the read of the next
/// chunk overlaps the socket's send of the last one (the transport's write buffer is 2 MiB, set where Kestrel is
/// configured). Range and conditional headers stay with <c>PhysicalFile</c>, which calls this.
/// </summary>
internal sealed class FastSendFile(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
{
    public const int ChunkBytes = 256 * 1024;

    public Stream Stream => inner.Stream;

    public PipeWriter Writer => inner.Writer;

    public Task CompleteAsync() => inner.CompleteAsync();

    public void DisableBuffering() => inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var remaining = count ?? RandomAccess.GetLength(handle) - offset;
        var total = remaining;
        await inner.StartAsync(cancellationToken).ConfigureAwait(false);
        var writer = inner.Writer;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            while (remaining > 0)
            {
                var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), offset, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"{path} became shorter while it was sent.");
                }

                offset += read;
                remaining -= read;
                var flush = await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            TransferMemory.AfterTransfer(total - remaining);
        }
    }
}
