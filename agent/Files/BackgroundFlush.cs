using Microsoft.Win32.SafeHandles;
using Sandboxd.Native;

namespace Sandboxd.Files;

/// <summary>
/// fdatasync(2) of an upload's temp file on the thread pool every <see cref="EveryBytes"/>, while the body keeps
/// arriving, so that the fsync before the rename waits for the last stretch only (docs/adr/0021-transport-blocks.md).
/// Without it the disk sat idle during the receive and a 1 GiB PUT ended with a 0.5–0.65 s fsync of everything; with
/// it that fsync took 0.02 s (bench/files; sync_file_range's write-behind, tried first, left it at 0.5 s). One flush is
/// in flight at a time. The handle is kept open (ref-counted) while one runs. A failed flush is reported by
/// <see cref="CompleteAsync"/>: the kernel reports a writeback error once per open file, so the final fsync would not.
/// </summary>
internal sealed class BackgroundFlush(SafeFileHandle file)
{
    public const long EveryBytes = 64L * 1024 * 1024;

    private long _flushedUpTo;
    private Task<int>? _running;
    private int _failedErrno;

    /// <summary>The body has been written up to <paramref name="total"/> bytes.</summary>
    public void Written(long total)
    {
        if (total - _flushedUpTo < EveryBytes)
        {
            return;
        }

        if (_running is { } running)
        {
            if (!running.IsCompleted)
            {
                return; // the disk is still busy with the last one; the next call tries again
            }

            Record(running.Result);
        }

        var added = false;
        file.DangerousAddRef(ref added);
        _flushedUpTo = total;
        _running = Task.Run(() =>
        {
            try
            {
                return LibC.Fdatasync((int)file.DangerousGetHandle()) == 0 ? 0 : LibC.LastErrno;
            }
            finally
            {
                file.DangerousRelease();
            }
        });
    }

    /// <summary>Waits for the flush in flight; throws an <see cref="IOException"/> with the errno when any failed.</summary>
    public async Task CompleteAsync()
    {
        if (_running is { } running)
        {
            Record(await running.ConfigureAwait(false));
            _running = null;
        }

        if (_failedErrno != 0)
        {
            throw new IOException($"writing the upload to disk failed (errno {_failedErrno})", _failedErrno);
        }
    }

    private void Record(int errno)
    {
        if (errno != 0 && _failedErrno == 0)
        {
            _failedErrno = errno;
        }
    }
}
