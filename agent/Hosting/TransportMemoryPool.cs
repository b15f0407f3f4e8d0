using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Sandboxd.Hosting;

/// <summary>
/// Kestrel's buffers from <see cref="TransportMemoryPool"/>: 64 KiB blocks while few are out, Kestrel's 4 KiB beyond
/// that (docs/adr/0021-transport-blocks.md).
/// </summary>
internal sealed class TransportMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new TransportMemoryPool();
}

/// <summary>
/// Kestrel's socket transport receives into one pool block per <c>recv</c>. With its own pool's 4 KiB blocks a 1 GiB
/// upload was ~262,000 receives, each with a pipe flush and often a thread wake-up: the agent spent 3.7 CPU-seconds
/// per GiB (perf: <c>recv</c> and futex wake-ups) and took 0.25× nginx's PUT. This pool hands out
/// <see cref="LargeSize"/> blocks while fewer than <see cref="MaxLargeOut"/> are out (one streaming connection holds
/// at most 1 MiB of unread input: 16 of them), and 4 KiB blocks beyond that, so that 1,000 busy connections cost what
/// they cost before (the preview bench: +22 MB with large blocks for all). A rent of more than 4 KiB always gets a
/// large block (a pipe may ask for a size and must get at least that). Blocks are pinned arrays (the socket engine pins
/// them anyway), reused; at most <see cref="MaxFreeBytes"/> of each size are kept free, the rest go back to the GC.
/// Idle connections hold no block: the transport waits for data before it rents one.
/// </summary>
internal sealed class TransportMemoryPool : MemoryPool<byte>
{
    public const int LargeSize = 64 * 1024;
    public const int SmallSize = 4 * 1024;
    public const int MaxLargeOut = 64;
    public const int MaxFreeBytes = 4 * 1024 * 1024;

    private readonly Shelf _large = new(LargeSize, MaxFreeBytes / LargeSize);
    private readonly Shelf _small = new(SmallSize, MaxFreeBytes / SmallSize);
    private int _largeOut;

    public override int MaxBufferSize => LargeSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, LargeSize);
        if (minBufferSize > SmallSize)
        {
            Interlocked.Increment(ref _largeOut);
            return _large.Take(this);
        }

        if (Interlocked.Increment(ref _largeOut) <= MaxLargeOut)
        {
            return _large.Take(this);
        }

        Interlocked.Decrement(ref _largeOut);
        return _small.Take(this);
    }

    protected override void Dispose(bool disposing)
    {
        _large.Close();
        _small.Close();
    }

    private void Return(Block block)
    {
        if (block.Memory.Length == LargeSize)
        {
            Interlocked.Decrement(ref _largeOut);
            _large.Put(block);
        }
        else
        {
            _small.Put(block);
        }
    }

    /// <summary>Free blocks of one size, at most <c>maxFree</c> of them.</summary>
    private sealed class Shelf(int size, int maxFree)
    {
        private readonly ConcurrentQueue<Block> _free = new();
        private int _count;
        private volatile bool _closed;

        public Block Take(TransportMemoryPool pool)
        {
            if (_free.TryDequeue(out var block))
            {
                Interlocked.Decrement(ref _count);
                block.Lease();
                return block;
            }

            return new Block(pool, GC.AllocateUninitializedArray<byte>(size, pinned: true));
        }

        public void Put(Block block)
        {
            if (_closed)
            {
                return;
            }

            if (Interlocked.Increment(ref _count) > maxFree)
            {
                Interlocked.Decrement(ref _count);
                return; // the GC takes it
            }

            _free.Enqueue(block);
        }

        public void Close()
        {
            _closed = true;
            _free.Clear();
        }
    }

    private sealed class Block(TransportMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        private int _leased = 1;

        public Memory<byte> Memory => array;

        public void Lease() => Volatile.Write(ref _leased, 1);

        /// <summary>Returns the block once; a second dispose (a bug of the renter) is ignored rather than shelving it twice.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _leased, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}
