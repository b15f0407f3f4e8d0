using System.Text;

namespace Sandboxd.Cli;

/// <summary>POSIX shell quoting, as the official client quotes arguments (<c>'it'\''s'</c>).</summary>
internal static class ShellQuoting
{
    /// <summary>One command line from argv: every argument that is not plainly safe is single-quoted.</summary>
    public static string Join(IEnumerable<string> argv) => string.Join(' ', argv.Select(Quote));

    public static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(IsSafe))
        {
            return argument;
        }

        var quoted = new StringBuilder(argument.Length + 2).Append('\'');
        foreach (var c in argument)
        {
            quoted.Append(c == '\'' ? "'\\''" : c);
        }

        return quoted.Append('\'').ToString();
    }

    private static bool IsSafe(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or ':' or '=' or '@' or '-' or '+' or ',' or '%';
}
