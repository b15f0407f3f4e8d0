using System.Text;
using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>What a reader got from an <see cref="OutputLog"/>: bytes starting at <see cref="Offset"/>, and how many bytes
/// between the requested offset and <see cref="Offset"/> were already evicted (<see cref="Lost"/>).</summary>
internal readonly record struct OutputChunk(long Offset, byte[] Bytes, int Count, long Lost);

/// <summary>
/// The one output path: an append-only, bounded byte log addressed by absolute offset. Writers append (the I/O
/// thread, never blocked); readers read from an offset and are told explicitly how much was evicted. The buffer grows
/// on demand up to its capacity, so an idle terminal costs little.
/// </summary>
internal sealed class OutputLog(int capacity) : IFdReader
{
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>; logical layout is a ring once it reaches <c>capacity</c>.</remarks>
    private byte[] _buffer = [];
    private long _start;
    private long _end;
    private bool _completed;
    private TaskCompletionSource? _changed;
    private readonly List<OutputLog> _mirrors = [];

    /// <summary>
    /// The first buffer's size: an idle PTY holds a prompt of a few bytes, and 1,000 of them with 4 KiB each cost 4 MB of
    /// heap (docs/adr/0012-footprint.md, session 8); output beyond it doubles the buffer as before.
    /// </summary>
    private const int FirstBufferBytes = 256;

    public int Capacity { get; } = capacity;

    /// <summary>Offset of the oldest byte still held.</summary>
    public long Start { get { lock (_gate) { return _start; } } }

    /// <summary>Offset one past the newest byte (= total bytes ever written).</summary>
    public long End { get { lock (_gate) { return _end; } } }

    public bool IsCompleted { get { lock (_gate) { return _completed; } } }

    /// <summary>Every append here is also appended to <paramref name="mirror"/> (the "combined" log of a server).</summary>
    public void MirrorToOnce(OutputLog mirror)
    {
        lock (_gate)
        {
            if (!_mirrors.Contains(mirror))
            {
                _mirrors.Add(mirror);
            }
        }
    }

    void IFdReader.OnData(ReadOnlySpan<byte> data) => Append(data);

    void IFdReader.OnClosed()
    {
        // End of one writer's stream; the owner decides when the log is complete (a log may outlive a process).
        Notify();
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        TaskCompletionSource? changed;
        OutputLog[] mirrors;
        lock (_gate)
        {
            AppendUnsynchronized(data);
            changed = _changed;
            _changed = null;
            mirrors = _mirrors.Count == 0 ? [] : [.. _mirrors];
        }

        changed?.TrySetResult();
        foreach (var mirror in mirrors)
        {
            mirror.Append(data);
        }
    }

    private void AppendUnsynchronized(ReadOnlySpan<byte> data)
    {
        if (data.Length >= Capacity)
        {
            EnsureCapacityUnsynchronized(Capacity);
            _end += data.Length; // the skipped prefix counts as written and evicted
            data = data[^Capacity..];
            _start = _end - Capacity;
            for (var i = 0; i < data.Length; i++)
            {
                _buffer[(_start + i) % Capacity] = data[i];
            }

            return;
        }

        var needed = _end - _start + data.Length;
        if (needed > _buffer.Length && _buffer.Length < Capacity)
        {
            EnsureCapacityUnsynchronized((int)Math.Min(Capacity, Math.Max(needed, Math.Max(FirstBufferBytes, (long)_buffer.Length * 2))));
        }

        if (_buffer.Length < Capacity)
        {
            // Still linear (nothing evicted yet, _start == 0).
            data.CopyTo(_buffer.AsSpan((int)_end));
            _end += data.Length;
            return;
        }

        var pos = (int)(_end % Capacity);
        var first = Math.Min(data.Length, Capacity - pos);
        data[..first].CopyTo(_buffer.AsSpan(pos));
        data[first..].CopyTo(_buffer);
        _end += data.Length;
        if (_end - _start > Capacity)
        {
            _start = _end - Capacity;
        }
    }

    private void EnsureCapacityUnsynchronized(int size)
    {
        if (_buffer.Length >= size)
        {
            return;
        }

        var bigger = new byte[size];
        _buffer.AsSpan(0, (int)(_end - _start)).CopyTo(bigger); // only called while linear
        _buffer = bigger;
    }

    /// <summary>No more data will come; wakes all readers.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
        }

        Notify();
    }

    private void Notify()
    {
        TaskCompletionSource? changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = null;
        }

        changed?.TrySetResult();
    }

    /// <summary>Copies up to <paramref name="max"/> bytes starting at <paramref name="offset"/> (or at <see cref="Start"/>
    /// if that was evicted; <see cref="OutputChunk.Lost"/> says how much).</summary>
    public OutputChunk Read(long offset, int max)
    {
        lock (_gate)
        {
            var lost = offset < _start ? _start - offset : 0;
            var from = Math.Max(offset, _start);
            var count = (int)Math.Clamp(_end - from, 0, max);
            var bytes = new byte[count];
            CopyUnsynchronized(from, bytes);
            return new OutputChunk(from, bytes, count, lost);
        }
    }

    private void CopyUnsynchronized(long from, Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        if (_buffer.Length < Capacity)
        {
            _buffer.AsSpan((int)(from - _start), destination.Length).CopyTo(destination);
            return;
        }

        var pos = (int)(from % Capacity);
        var first = Math.Min(destination.Length, Capacity - pos);
        _buffer.AsSpan(pos, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    /// <summary>Everything still held, decoded as UTF-8 (invalid bytes become U+FFFD).</summary>
    public string ReadAllText(out long evicted)
    {
        lock (_gate)
        {
            evicted = _start;
            var count = (int)(_end - _start);
            if (count == 0)
            {
                return "";
            }

            var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(count);
            try
            {
                CopyUnsynchronized(_start, bytes.AsSpan(0, count));
                // After eviction the kept tail may begin inside a multi-byte character: start at the next character.
                var skip = 0;
                while (_start > 0 && skip < 3 && skip < count && (bytes[skip] & 0xC0) == 0x80)
                {
                    skip++;
                }

                evicted += skip;
                return Encoding.UTF8.GetString(bytes, skip, count - skip);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
            }
        }
    }

    /// <summary>Completes when data past <paramref name="offset"/> exists or the log is complete.</summary>
    public Task WaitForDataAsync(long offset, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_end > offset || _completed)
            {
                return Task.CompletedTask;
            }

            _changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _changed.Task.WaitAsync(cancellationToken);
        }
    }
}
