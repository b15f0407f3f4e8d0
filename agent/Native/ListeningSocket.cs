namespace Sandboxd.Native;

/// <summary>
/// A listening TCP socket as the kernel reports it: local port, local address and socket inode. The address is its
/// 16 bytes in network order read as one big-endian number; an IPv4 address is stored IPv4-mapped (::ffff:a.b.c.d),
/// so a v4 socket and a v6 socket bound to the v4-mapped address have the same key, as /proc's readers always had.
/// </summary>
internal readonly record struct ListeningSocket(int Port, UInt128 Address, long Inode)
{
    /// <summary>::ffff:0.0.0.0 — the prefix of every IPv4-mapped address.</summary>
    public static readonly UInt128 V4MappedPrefix = (UInt128)0xFFFF << 32;

    /// <summary>An IPv4 address given in network order (its big-endian value) as the mapped 128-bit key.</summary>
    public static UInt128 MapV4(uint bigEndianValue) => V4MappedPrefix | bigEndianValue;

    /// <summary>::ffff:a.b.c.d — an IPv4 address (or a v6 socket bound to a v4-mapped one).</summary>
    public static bool IsV4Mapped(UInt128 address) => address >> 32 == 0xFFFF;
}
