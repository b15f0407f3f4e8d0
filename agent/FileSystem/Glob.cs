namespace Sandboxd.FileSystem;

/// <summary>
/// Ignore patterns for watchers and overlays: <c>*</c> (within a segment), <c>**</c> (any depth), <c>?</c>. A pattern
/// without "/" matches any single path segment (so <c>node_modules</c> ignores it at every depth); a pattern with "/"
/// matches the path relative to the root.
/// </summary>
/// <remarks>
/// A small matcher of its own rather than System.Text.RegularExpressions: the regex engines (parser, interpreter,
/// NonBacktracking) were ≈ 0.4 MB of the agent for these few wildcards (docs/adr/0012-footprint.md). Same language as
/// the regex it replaces: <c>*</c> = <c>[^/]*</c>, <c>?</c> = <c>[^/]</c>, <c>**/</c> = <c>(?:.*/)?</c>, <c>**</c> =
/// <c>.*</c> (where <c>.</c> is any character but '\n'), anything else literal, ordinal, anchored at both ends.
/// </remarks>
internal sealed class Glob
{
    private readonly Token[][] _segment;
    private readonly Token[][] _relative;

    public Glob(IEnumerable<string>? patterns)
    {
        var list = (patterns ?? []).Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim()).ToList();
        _segment = [.. list.Where(p => !p.Contains('/', StringComparison.Ordinal)).Select(Compile)];
        _relative = [.. list.Where(p => p.Contains('/', StringComparison.Ordinal)).Select(p => Compile(p.TrimStart('/').TrimEnd('/')))];
    }

    private enum Kind : byte
    {
        Literal,
        AnyInSegment, // ?
        StarInSegment, // *
        StarAny, // ** not followed by /
        AnyDirectories, // **/
    }

    private readonly record struct Token(Kind Kind, char Char = '\0');

    public bool IsEmpty => _segment.Length == 0 && _relative.Length == 0;

    /// <summary>True if <paramref name="relativePath"/> ("a/b/c", no leading slash) or any of its segments matches.</summary>
    public bool IsMatch(string relativePath)
    {
        if (IsEmpty || relativePath.Length == 0)
        {
            return false;
        }

        foreach (var pattern in _relative)
        {
            if (Matches(pattern, relativePath))
            {
                return true;
            }
        }

        if (_segment.Length == 0)
        {
            return false;
        }

        var rest = relativePath.AsSpan();
        while (true)
        {
            var slash = rest.IndexOf('/');
            var segment = slash < 0 ? rest : rest[..slash];
            foreach (var pattern in _segment)
            {
                if (Matches(pattern, segment))
                {
                    return true;
                }
            }

            if (slash < 0)
            {
                return false;
            }

            rest = rest[(slash + 1)..];
        }
    }

    private static Token[] Compile(string pattern)
    {
        var tokens = new List<Token>(pattern.Length);
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                if (i + 2 < pattern.Length && pattern[i + 2] == '/')
                {
                    tokens.Add(new Token(Kind.AnyDirectories));
                    i += 2;
                }
                else
                {
                    tokens.Add(new Token(Kind.StarAny));
                    i++;
                }
            }
            else if (c == '*')
            {
                tokens.Add(new Token(Kind.StarInSegment));
            }
            else if (c == '?')
            {
                tokens.Add(new Token(Kind.AnyInSegment));
            }
            else
            {
                tokens.Add(new Token(Kind.Literal, c));
            }
        }

        return [.. tokens];
    }

    /// <summary>
    /// The set of text positions reachable after each token, advanced token by token: O(tokens × length), no
    /// backtracking, no allocation for paths up to 255 characters.
    /// </summary>
    private static bool Matches(Token[] pattern, ReadOnlySpan<char> text)
    {
        var n = text.Length + 1;
        bool[]? rented = null;
        Span<bool> buffer = n <= 256 ? stackalloc bool[2 * n] : (rented = System.Buffers.ArrayPool<bool>.Shared.Rent(2 * n)).AsSpan(0, 2 * n);
        try
        {
            var current = buffer[..n];
            var next = buffer[n..];
            current.Clear();
            current[0] = true;
            foreach (var token in pattern)
            {
                next.Clear();
                var any = false;
                for (var i = 0; i < n; i++)
                {
                    if (!current[i])
                    {
                        continue;
                    }

                    any = true;
                    switch (token.Kind)
                    {
                        case Kind.Literal:
                            if (i < text.Length && text[i] == token.Char)
                            {
                                next[i + 1] = true;
                            }

                            break;
                        case Kind.AnyInSegment:
                            if (i < text.Length && text[i] != '/')
                            {
                                next[i + 1] = true;
                            }

                            break;
                        case Kind.StarInSegment:
                            next[i] = true;
                            for (var j = i; j < text.Length && text[j] != '/'; j++)
                            {
                                next[j + 1] = true;
                            }

                            break;
                        case Kind.StarAny:
                            next[i] = true;
                            for (var j = i; j < text.Length && text[j] != '\n'; j++)
                            {
                                next[j + 1] = true;
                            }

                            break;
                        case Kind.AnyDirectories:
                            next[i] = true;
                            for (var j = i; j < text.Length && text[j] != '\n'; j++)
                            {
                                if (text[j] == '/')
                                {
                                    next[j + 1] = true;
                                }
                            }

                            break;
                    }
                }

                if (!any)
                {
                    return false;
                }

                var swap = current;
                current = next;
                next = swap;
            }

            return current[text.Length];
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<bool>.Shared.Return(rented);
            }
        }
    }
}
