using System.Globalization;
using Sandboxd.Native;

namespace Sandboxd.Ports;

internal sealed partial class PortScanner
{
    /// <summary>
    /// socket inode → pid for <paramref name="wanted"/> (only run when a new listener shows up), from the fd links of
    /// the agent itself, then its own descendants — a server's port is found without reading every process of a busy machine —
    /// and of every other process only for sockets still unowned (signals report every listener of the sandbox).
    /// </summary>
    private static Dictionary<long, int> MapInodesToPids(HashSet<long> wanted)
    {
        var result = new Dictionary<long, int>();
        // The agent first: a child between its spawn and its exec still holds copies of the agent's descriptors
        // (they close at exec), so its own listeners must be claimed before any descendant is looked at.
        var scanned = new HashSet<int> { ProcessTable.SelfPid };
        if (AddSocketsOf(ProcessTable.SelfPid, wanted, result))
        {
            return result;
        }

        if (ProcessTable.OwnsItsTree)
        {
            foreach (var pid in ProcessTable.AgentDescendants())
            {
                scanned.Add(pid);
                if (AddSocketsOf(pid, wanted, result))
                {
                    return result;
                }
            }
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !scanned.Contains(pid)
                && AddSocketsOf(pid, wanted, result))
            {
                break;
            }
        }

        return result;
    }

    /// <summary>Adds the wanted sockets <paramref name="pid"/> holds; true once every wanted socket has an owner.</summary>
    private static bool AddSocketsOf(int pid, HashSet<long> wanted, Dictionary<long, int> result)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                if (TrySocketInode(fd, out var inode) && wanted.Contains(inode))
                {
                    result.TryAdd(inode, pid);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // process gone or not ours to inspect
        }

        return result.Count >= wanted.Count;
    }

    /// <summary>
    /// The socket inode a <c>/proc/PID/fd/N</c> link names, from one <c>readlink</c> into a stack buffer: a listener
    /// opened by any process of the machine that is not the agent's makes the scanner read every descriptor of every
    /// process, and <c>FileInfo.LinkTarget</c> cost an <c>lstat</c>, a <c>readlink</c> and a string for each one
    /// (with other work opening ports, most of an idle agent's CPU beside 100 servers).
    /// </summary>
    private static unsafe bool TrySocketInode(string fdLink, out long inode)
    {
        inode = 0;
        const int Size = 64; // "socket:[" + 20 digits + "]"; anything longer is not a socket
        var buffer = stackalloc byte[Size];
        var length = LibC.ReadLink(fdLink, buffer, Size);
        if (length <= 9 || length >= Size)
        {
            return false;
        }

        var target = new ReadOnlySpan<byte>(buffer, (int)length);
        return target.StartsWith("socket:["u8) && target[^1] == (byte)']'
            && System.Buffers.Text.Utf8Parser.TryParse(target[8..^1], out inode, out var consumed) && consumed == target.Length - 9;
    }
}
