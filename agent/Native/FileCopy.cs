using System.Runtime.InteropServices;

namespace Sandboxd.Native;

/// <summary>
/// Copies regular files with raw syscalls and no managed stream: open, fstat, open a temporary name next to the
/// destination (O_EXCL, mode 0600), the data (FICLONE where the filesystem shares extents, else copy_file_range, else
/// pread/pwrite), fchmod, fchown (run-as user only), futimens (atime and mtime, nanoseconds), close, rename into place.
/// A file with holes keeps them (SEEK_DATA/SEEK_HOLE). One instance serves one tree copy from several threads: it
/// remembers when reflinks or copy_file_range turn out unsupported between the two filesystems so later files skip
/// the failing call. See docs/adr/0015-overlay-copy.md.
/// </summary>
internal sealed unsafe class FileCopy(WorkloadUser owner)
{
    private const int S_IFREG = 0x8000;
    private const int BufferBytes = 256 * 1024;
    private const long Chunk = 1L << 30;
    private readonly string _tag = Guid.NewGuid().ToString("N")[..8];
    private long _serial;
    private volatile bool _noClone;
    private volatile bool _noCopyRange;

    [ThreadStatic]
    private static byte[]? t_buffer;

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> (replacing a file, link or directory there).</summary>
    /// <returns>The bytes in the copy.</returns>
    /// <exception cref="IOException">Any step failed; the temporary file is removed. HResult is the errno.</exception>
    public long Copy(string source, string destination)
    {
        var src = LibC.Open(source, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_NOCTTY, 0);
        if (src < 0)
        {
            throw LibC.IoError("cannot open", source);
        }

        var dst = -1;
        string? temp = null;
        try
        {
            if (!LibC.TryFStat(src, out var status))
            {
                throw LibC.IoError("cannot stat", source);
            }

            if (status.Type != S_IFREG)
            {
                throw new IOException($"{source} is no longer a regular file");
            }

            var slash = destination.LastIndexOf('/');
            temp = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{destination.AsSpan(0, slash + 1)}.{destination.AsSpan(slash + 1)}.sandboxd-{_tag}{Interlocked.Increment(ref _serial):x}.tmp");
            dst = LibC.Open(temp, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0x180);
            if (dst < 0)
            {
                var errno = LibC.LastErrno;
                temp = null; // not ours to remove
                throw LibC.IoError(errno, "cannot create", destination);
            }

            if (status.Size > 0)
            {
                CopyData(src, dst, status, source);
            }

            if (LibC.FChmod(dst, status.Mode & 0xFFF) != 0)
            {
                throw LibC.IoError("cannot set the mode of", destination);
            }

            if (owner.Switches && LibC.FChown(dst, owner.Uid, owner.Gid) != 0)
            {
                throw LibC.IoError($"cannot give to {owner.Name}", destination);
            }

            var times = stackalloc long[4] { status.ATimeSec, status.ATimeNsec, status.MTimeSec, status.MTimeNsec };
            if (LibC.FUtimens(dst, times) != 0)
            {
                throw LibC.IoError("cannot set the times of", destination);
            }

            var closed = LibC.Close(dst);
            dst = -1;
            if (closed != 0)
            {
                throw LibC.IoError("cannot write", destination);
            }

            if (LibC.Rename(temp, destination) != 0)
            {
                if (LibC.LastErrno != LibC.EISDIR || Directory.ResolveLinkTarget(destination, false) is not null)
                {
                    throw LibC.IoError("cannot move into place", destination);
                }

                Directory.Delete(destination, recursive: true); // a real directory where the template has a file
                if (LibC.Rename(temp, destination) != 0)
                {
                    throw LibC.IoError("cannot move into place", destination);
                }
            }

            temp = null;
            return status.Size;
        }
        finally
        {
            if (dst >= 0)
            {
                LibC.Close(dst);
            }

            if (temp is not null)
            {
                LibC.Unlink(temp);
            }

            LibC.Close(src);
        }
    }

    private void CopyData(int src, int dst, LibC.FileStatus status, string source)
    {
        if (!_noClone)
        {
            if (LibC.IoctlClone(dst, LibC.FICLONE, src) == 0)
            {
                return;
            }

            if (LibC.LastErrno is LibC.EOPNOTSUPP or LibC.EXDEV or LibC.EINVAL or LibC.ENOTTY or LibC.ENOSYS)
            {
                _noClone = true; // these two filesystems share no extents: stop asking
            }
        }

        // Fewer blocks than the size says: the file has holes. Copy only its data segments and keep the holes.
        if (status.Blocks * 512 < status.Size && CopySparse(src, dst, status.Size, source))
        {
            return;
        }

        CopyRange(src, dst, 0, status.Size, source);
    }

    /// <returns>False when the filesystem cannot say where the holes are (copy it whole).</returns>
    private bool CopySparse(int src, int dst, long size, string source)
    {
        var offset = 0L;
        while (offset < size)
        {
            var data = LibC.LSeek(src, offset, LibC.SEEK_DATA);
            if (data < 0)
            {
                var errno = LibC.LastErrno;
                if (errno == LibC.ENXIO)
                {
                    break; // only a hole from here to the end
                }

                if (offset == 0 && errno == LibC.EINVAL)
                {
                    return false;
                }

                throw LibC.IoError(errno, "cannot read", source);
            }

            var hole = LibC.LSeek(src, data, LibC.SEEK_HOLE);
            if (hole < 0)
            {
                throw LibC.IoError("cannot read", source);
            }

            hole = Math.Min(hole, size);
            if (hole > data)
            {
                CopyRange(src, dst, data, hole - data, source);
            }

            offset = hole;
        }

        if (LibC.Ftruncate(dst, size) != 0)
        {
            throw LibC.IoError("cannot write", source);
        }

        return true;
    }

    /// <summary>Copies [offset, offset + length) at the same offsets; stops early at the end of a file that shrank.</summary>
    private void CopyRange(int src, int dst, long offset, long length, string source)
    {
        long inOffset = offset, outOffset = offset;
        var end = offset + length;
        while (!_noCopyRange && inOffset < end)
        {
            var n = LibC.CopyFileRange(src, &inOffset, dst, &outOffset, (nuint)Math.Min(end - inOffset, Chunk), 0);
            if (n > 0)
            {
                continue; // the kernel moved both offsets
            }

            if (n == 0)
            {
                return;
            }

            var errno = LibC.LastErrno;
            if (errno == LibC.EINTR)
            {
                continue;
            }

            if (errno is not (LibC.EXDEV or LibC.EINVAL or LibC.ENOSYS or LibC.EOPNOTSUPP))
            {
                throw LibC.IoError(errno, "cannot copy", source);
            }

            _noCopyRange = true; // across filesystems (or unsupported): read and write from here on
        }

        var buffer = t_buffer ??= GC.AllocateUninitializedArray<byte>(BufferBytes);
        fixed (byte* p = buffer)
        {
            while (inOffset < end)
            {
                var n = LibC.PRead(src, p, (nint)Math.Min(end - inOffset, BufferBytes), inOffset);
                if (n == 0)
                {
                    return;
                }

                if (n < 0)
                {
                    if (LibC.LastErrno == LibC.EINTR)
                    {
                        continue;
                    }

                    throw LibC.IoError("cannot read", source);
                }

                for (var written = 0L; written < n;)
                {
                    var w = LibC.PWriteAt(dst, p + written, (nint)(n - written), outOffset);
                    if (w < 0)
                    {
                        if (LibC.LastErrno == LibC.EINTR)
                        {
                            continue;
                        }

                        throw LibC.IoError("cannot write the copy of", source);
                    }

                    written += w;
                    outOffset += w;
                }

                inOffset += n;
            }
        }
    }
}

/// <summary>Lists a directory with readdir(3): names and d_type, no stat per entry.</summary>
internal static unsafe class DirectoryReader
{
    public const byte DT_UNKNOWN = 0;
    public const byte DT_DIR = 4;
    public const byte DT_REG = 8;
    public const byte DT_LNK = 10;

    /// <summary>Appends the entries of <paramref name="path"/> (without . and ..) to <paramref name="into"/>.</summary>
    /// <exception cref="IOException">The directory cannot be opened or read.</exception>
    public static void Read(string path, List<(string Name, byte Type)> into)
    {
        var dir = LibC.OpenDir(path);
        if (dir == 0)
        {
            throw LibC.IoError("cannot list", path);
        }

        try
        {
            while (true)
            {
                var entry = LibC.ReadDir(dir);
                if (entry is null)
                {
                    if (LibC.LastErrno != 0)
                    {
                        throw LibC.IoError("cannot list", path);
                    }

                    return;
                }

                var name = entry + 19; // d_name
                if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
                {
                    continue;
                }

                into.Add((Marshal.PtrToStringUTF8((nint)name)!, entry[18]));
            }
        }
        finally
        {
            LibC.CloseDir(dir);
        }
    }

    /// <summary>The type of <paramref name="path"/> as a d_type (lstat), for filesystems that report DT_UNKNOWN.</summary>
    public static byte TypeOf(string path, out long size)
    {
        if (!LibC.TryLStat(path, out var status))
        {
            throw LibC.IoError("cannot stat", path);
        }

        size = status.Size;
        return (byte)(status.Type >> 12);
    }

    /// <summary>The target of a symbolic link, as stored.</summary>
    public static string ReadLink(string path)
    {
        var buffer = stackalloc byte[4097];
        var n = LibC.ReadLink(path, buffer, 4096);
        if (n < 0)
        {
            throw LibC.IoError("cannot read the link", path);
        }

        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }
}
