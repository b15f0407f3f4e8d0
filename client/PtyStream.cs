using System.Threading.Channels;
using Sandboxd.Client.Live;

namespace Sandboxd.Client;

/// <summary>The duplex stream of a <see cref="PtyTerminal"/>: reads drain the output queue, writes send input frames.</summary>
internal sealed class PtyStream(PtyTerminal terminal, ChannelReader<PtyItem> items) : Stream
{
    private ReadOnlyMemory<byte> _pending;
    private bool _ended;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException("A terminal has no length.");
    public override long Position
    {
        get => throw new NotSupportedException("A terminal cannot seek.");
        set => throw new NotSupportedException("A terminal cannot seek.");
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (_pending.IsEmpty)
        {
            if (_ended || !await items.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                _ended = true;
                return 0;
            }

            if (!items.TryRead(out var item))
            {
                continue;
            }

            if (item.Lost is { } lost)
            {
                throw lost;
            }

            if (item.ExitCode is not null)
            {
                _ended = true;
                return 0;
            }

            _pending = item.Bytes;
        }

        var count = Math.Min(buffer.Length, _pending.Length);
        _pending[..count].CopyTo(buffer);
        _pending = _pending[count..];
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(terminal.WriteAsync(buffer, cancellationToken));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        terminal.WriteAsync(buffer.AsMemory(offset, count), cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask; // every write is sent when it completes

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("A terminal stream is asynchronous: use ReadAsync.");

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("A terminal stream is asynchronous: use WriteAsync.");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A terminal cannot seek.");

    public override void SetLength(long value) => throw new NotSupportedException("A terminal cannot seek.");
}
