using System.Text;
using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.FileSystem;

namespace Sandboxd.Tests.Overlays;

/// <summary>
/// The ignore-glob matcher (overlays, watchers) replaced a regex translation to keep the regex engines out of the
/// binary (docs/adr/0012-footprint.md). Checked here against that translation, verbatim, over every pattern × path of a
/// table that exercises each wildcard, plus a seeded random sweep: same answer everywhere.
/// </summary>
public sealed class GlobMatchTests
{
    private static readonly string[] Patterns =
    [
        "node_modules", "*.log", "?.txt", "a*b*c", "*", "**", "build/**", "**/dist", "**/*.tmp", "src/**/gen/*.cs",
        "a/b", "/a/b/", "a?c", ".git", "x**y", "**/", "a/**/b", "*.min.*", "a+b(c)", "[x]", "file.txt", "a/*/c",
    ];

    private static readonly string[] Paths =
    [
        "node_modules", "a/node_modules/b", "node_modules_x", "x.log", "a/b/x.log", "a.txt", "ab.txt", "abc", "aXbYc",
        "a/b/c", "build", "build/x", "build/x/y", "dist", "a/dist", "a/b/dist", "x.tmp", "a/b/x.tmp", "src/gen/a.cs",
        "src/a/b/gen/a.cs", "src/gen/sub/a.cs", "a/b", "ab", "abc/def", ".git", "a/.git/HEAD", "xy", "x/y", "x/a/b/y",
        "a/b/c/d", "f.min.js", "a+b(c)", "[x]", "x", "file.txt", "filextxt", "a/x/c", "a/x/y/c", "a\nb", "a/\n/b", "é/ü.log",
    ];

    [Fact]
    public void Every_table_pattern_matches_exactly_as_the_regex_it_replaces()
    {
        foreach (var pattern in Patterns)
        {
            var glob = new Glob([pattern]);
            foreach (var path in Paths)
            {
                glob.IsMatch(path).Should().Be(Reference(pattern, path), $"pattern '{pattern}' on path '{path}'");
            }
        }
    }

    [Fact]
    public void Random_patterns_and_paths_agree_with_the_regex()
    {
        var random = new Random(17);
        const string patternAlphabet = "ab/*?.";
        const string pathAlphabet = "ab/.";
        for (var round = 0; round < 20_000; round++)
        {
            var pattern = RandomString(random, patternAlphabet, random.Next(1, 8));
            var path = RandomString(random, pathAlphabet, random.Next(1, 10));
            if (string.IsNullOrWhiteSpace(pattern))
            {
                continue;
            }

            new Glob([pattern]).IsMatch(path).Should().Be(Reference(pattern, path), $"pattern '{pattern}' on path '{path}'");
        }
    }

    [Fact]
    public void A_path_longer_than_the_stack_buffer_is_matched_too()
    {
        var deep = string.Join('/', Enumerable.Repeat("dir", 200)) + "/x.tmp";
        new Glob(["**/*.tmp"]).IsMatch(deep).Should().BeTrue();
        new Glob(["**/*.log"]).IsMatch(deep).Should().BeFalse();
        new Glob(["x.tmp"]).IsMatch(deep).Should().BeTrue();
    }

    private static string RandomString(Random random, string alphabet, int length)
    {
        var sb = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            sb.Append(alphabet[random.Next(alphabet.Length)]);
        }

        return sb.ToString();
    }

    /// <summary>The agent's previous implementation: patterns to regexes, segment patterns tried on every segment.</summary>
    private static bool Reference(string pattern, string path)
    {
        pattern = pattern.Trim();
        if (path.Length == 0)
        {
            return false;
        }

        if (pattern.Contains('/', StringComparison.Ordinal))
        {
            return Compile(pattern.TrimStart('/').TrimEnd('/')).IsMatch(path);
        }

        var regex = Compile(pattern);
        return path.Split('/').Any(regex.IsMatch);
    }

    private static Regex Compile(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
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

        // \z rather than $: the old "$" also matched before a final "\n", which no file name the agent sees ends with
        // except by accident; the new matcher is exact.
        sb.Append(@"\z");
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }
}
