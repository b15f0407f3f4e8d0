namespace Sandboxd.Files;

/// <summary>
/// Gives back the memory a large raw transfer left behind (docs/adr/0014-raw-download.md, "RSS during transfers"). Kestrel's
/// socket transport allocates ~24 KB of small objects per MB sent (per-send segment lists over its 4 KiB blocks) and the
/// PUT's gathered writes ~14 KB per MB received, so a 1 GiB transfer runs several gen0/gen1 collections whose new regions
/// stay committed afterwards: the agent's RSS grew by 12–20 MiB over one PUT and one GET and kept it. After a transfer
/// of at least <see cref="MinBytes"/>, one aggressive full collection (compacting, decommitting free regions) runs on the
/// thread pool, at most once per <see cref="MinInterval"/>: transfers that end within that time share one collection,
/// run when the interval is over, so many concurrent transfers cost one pause, not one each.
/// </summary>
internal static class TransferMemory
{
    public const long MinBytes = 64L * 1024 * 1024;

    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(2);

    private static long _lastTicks = -(long)MinInterval.TotalMilliseconds;
    private static int _pending;

    public static void AfterTransfer(long bytes)
    {
        if (bytes < MinBytes || Interlocked.Exchange(ref _pending, 1) == 1)
        {
            return; // small, or a collection is already queued and runs after this transfer's end
        }

        var wait = Interlocked.Read(ref _lastTicks) + (long)MinInterval.TotalMilliseconds - Environment.TickCount64;
        _ = Task.Run(async () =>
        {
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(wait)).ConfigureAwait(false);
            }

            Volatile.Write(ref _pending, 0);
            Interlocked.Exchange(ref _lastTicks, Environment.TickCount64);
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        });
    }
}
