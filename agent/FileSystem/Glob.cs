using System.Text;
using System.Text.RegularExpressions;

namespace Sandboxd.FileSystem;

/// <summary>
/// Ignore patterns for watchers and overlays: <c>*</c> (within a segment), <c>**</c> (any depth), <c>?</c>. A pattern
/// without "/" matches any single path segment (so <c>node_modules</c> ignores it at every depth); a pattern with "/"
/// matches the path relative to the root.
/// </summary>
internal sealed class Glob
{
    private readonly Regex[] _segment;
    private readonly Regex[] _relative;

    public Glob(IEnumerable<string>? patterns)
    {
        var list = (patterns ?? []).Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim().TrimStart('.', '/') == "" ? p.Trim() : p.Trim()).ToList();
        _segment = [.. list.Where(p => !p.Contains('/', StringComparison.Ordinal)).Select(p => Compile(p))];
        _relative = [.. list.Where(p => p.Contains('/', StringComparison.Ordinal)).Select(p => Compile(p.TrimStart('/').TrimEnd('/')))];
    }

    public bool IsEmpty => _segment.Length == 0 && _relative.Length == 0;

    /// <summary>True if <paramref name="relativePath"/> ("a/b/c", no leading slash) or any of its segments matches.</summary>
    public bool IsMatch(string relativePath)
    {
        if (IsEmpty || relativePath.Length == 0)
        {
            return false;
        }

        foreach (var regex in _relative)
        {
            if (regex.IsMatch(relativePath))
            {
                return true;
            }
        }

        if (_segment.Length == 0)
        {
            return false;
        }

        foreach (var segment in relativePath.Split('/'))
        {
            foreach (var regex in _segment)
            {
                if (regex.IsMatch(segment))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static Regex Compile(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                // "**/" = zero or more directories; "**" at the end = anything
                if (i + 2 < pattern.Length && pattern[i + 2] == '/')
                {
                    sb.Append("(?:.*/)?");
                    i += 2;
                }
                else
                {
                    sb.Append(".*");
                    i++;
                }
            }
            else if (c == '*')
            {
                sb.Append("[^/]*");
            }
            else if (c == '?')
            {
                sb.Append("[^/]");
            }
            else
            {
                sb.Append(Regex.Escape(c.ToString()));
            }
        }

        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }
}
