using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Sandboxd.Native;

namespace Sandboxd.Ports;

/// <summary>
/// The LISTEN lines of /proc/net/tcp and /proc/net/tcp6: the fallback where netlink sock_diag is refused. Reads the
/// file in chunks into one reused buffer and parses bytes in place (no string per line): the kernel still prints every
/// socket, TIME_WAIT included, but the agent no longer allocates for each. Not thread-safe (one scan at a time).
/// </summary>
internal sealed class ProcNetTcp
{
    private const byte Listen0 = (byte)'0';
    private const byte ListenA = (byte)'A';
    private byte[] _buffer = new byte[64 * 1024];

    /// <summary>Appends the listeners of /proc/net/tcp (v4) and /proc/net/tcp6 (v6) to <paramref name="into"/>.</summary>
    public void Read(List<ListeningSocket> into)
    {
        Read("/proc/net/tcp", v6: false, into);
        Read("/proc/net/tcp6", v6: true, into);
    }

    /// <summary>Appends the listeners of one file; a file that cannot be read (no IPv6) adds nothing.</summary>
    public void Read(string path, bool v6, List<ListeningSocket> into)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        using (file)
        {
            try
            {
                ReadLines(file, v6, into);
            }
            catch (IOException)
            {
                // the file went away mid-read (network namespace torn down): what was read stands
            }
        }
    }

    private void ReadLines(SafeFileHandle file, bool v6, List<ListeningSocket> into)
    {
        long offset = 0;
        var filled = 0;
        var header = true; // "  sl  local_address rem_address   st ..."
        while (true)
        {
            if (filled == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2); // a line longer than the buffer: never seen, but not fatal
            }

            var read = RandomAccess.Read(file, _buffer.AsSpan(filled), offset);
            offset += read;
            filled += read;
            var data = _buffer.AsSpan(0, filled);
            var consumed = 0;
            int newline;
            while ((newline = data[consumed..].IndexOf((byte)'\n')) >= 0)
            {
                if (!header)
                {
                    ParseLine(data.Slice(consumed, newline), v6, into);
                }

                header = false;
                consumed += newline + 1;
            }

            if (read == 0)
            {
                if (consumed < filled && !header)
                {
                    ParseLine(data[consumed..], v6, into); // a last line without its newline
                }

                return;
            }

            data[consumed..].CopyTo(_buffer);
            filled -= consumed;
        }
    }

    /// <summary>"sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..." — LISTEN is st 0A.</summary>
    internal static void ParseLine(ReadOnlySpan<byte> line, bool v6, List<ListeningSocket> into)
    {
        var rest = line;
        _ = NextField(ref rest); // sl
        var local = NextField(ref rest);
        _ = NextField(ref rest); // rem_address
        var state = NextField(ref rest);
        if (state.Length != 2 || state[0] != Listen0 || state[1] != ListenA)
        {
            return; // not LISTEN
        }

        for (var skip = 0; skip < 5; skip++)
        {
            _ = NextField(ref rest); // tx:rx tr:when retrnsmt uid timeout
        }

        var inodeText = NextField(ref rest);
        var colon = local.IndexOf((byte)':');
        if (colon != (v6 ? 32 : 8)
            || !ushort.TryParse(local[(colon + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port)
            || !long.TryParse(inodeText, NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
            || !TryParseAddress(local[..colon], out var address))
        {
            return; // not a line of this format
        }

        into.Add(new ListeningSocket(port, v6 ? address : ListeningSocket.MapV4((uint)address), inode));
    }

    /// <summary>
    /// /proc prints each 32-bit word of the address (network order in memory) as a host-order number: its bytes in
    /// memory order are the address's bytes. 8 hex digits (v4, the value returned is the v4 address's big-endian value)
    /// or 32 (v6).
    /// </summary>
    private static bool TryParseAddress(ReadOnlySpan<byte> hex, out UInt128 address)
    {
        address = 0;
        for (var word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var host))
            {
                return false;
            }

            var networkOrder = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(host) : host;
            address = (address << 32) | networkOrder;
        }

        return true;
    }

    private static ReadOnlySpan<byte> NextField(ref ReadOnlySpan<byte> rest)
    {
        var start = rest.IndexOfAnyExcept((byte)' ');
        if (start < 0)
        {
            rest = default;
            return default;
        }

        rest = rest[start..];
        var end = rest.IndexOf((byte)' ');
        var field = end < 0 ? rest : rest[..end];
        rest = end < 0 ? default : rest[end..];
        return field;
    }
}
