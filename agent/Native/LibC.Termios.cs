using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sandboxd.Native;

/// <summary>The controlling terminal of the <c>sandboxd shell</c> client: raw mode, window size, the standard streams.</summary>
internal static unsafe partial class LibC
{
    private const int STDIN_FILENO = 0;
    private const int STDOUT_FILENO = 1;
    private const int STDERR_FILENO = 2;
    private const int TCSADRAIN = 1;

    /// <summary>glibc's <c>struct termios</c> is 60 bytes on Linux; the buffer leaves room so no libc can write past it.</summary>
    private const int TermiosBufferSize = 256;

    [LibraryImport("libc", EntryPoint = "isatty")]
    private static partial int IsAtty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static partial void CfMakeRaw(byte* termios);

    /// <summary>True when standard input is a terminal.</summary>
    internal static bool StdinIsTerminal() => IsAtty(STDIN_FILENO) == 1;

    /// <summary>
    /// Puts standard input's terminal in raw mode (no echo, no line editing, no signal keys: Ctrl-C arrives as the
    /// byte 0x03) and returns the previous settings for <see cref="RestoreTerminal"/>; null when stdin is not a terminal.
    /// </summary>
    internal static byte[]? EnterRawMode()
    {
        var saved = new byte[TermiosBufferSize];
        var raw = new byte[TermiosBufferSize];
        fixed (byte* s = saved)
        fixed (byte* r = raw)
        {
            if (IsAtty(STDIN_FILENO) != 1 || TcGetAttr(STDIN_FILENO, s) != 0)
            {
                return null;
            }

            saved.CopyTo(raw, 0);
            CfMakeRaw(r);
            ThrowIfFailed(TcSetAttr(STDIN_FILENO, TCSADRAIN, r), "tcsetattr");
        }

        return saved;
    }

    /// <summary>Restores the settings <see cref="EnterRawMode"/> returned.</summary>
    internal static void RestoreTerminal(byte[] saved)
    {
        fixed (byte* s = saved)
        {
            ThrowIfFailed(TcSetAttr(STDIN_FILENO, TCSADRAIN, s), "tcsetattr");
        }
    }

    /// <summary>The window size of the terminal on stdout (or stdin); false when neither is a terminal.</summary>
    internal static bool TryGetWindowSize(out int cols, out int rows)
    {
        WinSize size;
        if ((Ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 || Ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0) && size.Cols > 0 && size.Rows > 0)
        {
            cols = size.Cols;
            rows = size.Rows;
            return true;
        }

        cols = 0;
        rows = 0;
        return false;
    }

    /// <summary>
    /// Standard input as a plain byte stream. Not <c>Console.OpenStandardInput()</c>: on a terminal that one reads
    /// through the console's line editor, which defeats raw mode.
    /// </summary>
    internal static Stream OpenStandardInput() => new FileStream(new SafeFileHandle(STDIN_FILENO, ownsHandle: false), FileAccess.Read, 1);

    /// <summary>Standard output as a plain byte stream (the console layer would emit terminfo sequences of its own).</summary>
    internal static Stream OpenStandardOutput() => new FileStream(new SafeFileHandle(STDOUT_FILENO, ownsHandle: false), FileAccess.Write, 1);

    /// <summary>Standard error as a plain byte stream.</summary>
    internal static Stream OpenStandardError() => new FileStream(new SafeFileHandle(STDERR_FILENO, ownsHandle: false), FileAccess.Write, 1);
}
