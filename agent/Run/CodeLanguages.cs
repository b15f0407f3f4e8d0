namespace Sandboxd.Run;

/// <summary>A language <c>/run/code</c> can run: canonical name, interpreter, file extension.</summary>
internal sealed record CodeLanguage(string Name, string Interpreter, string Extension);

/// <summary>The language table and auto-detection of spec §5.5.</summary>
internal static class CodeLanguages
{
    private static readonly CodeLanguage Python = new("python", "python3", ".py");
    private static readonly CodeLanguage Node = new("node", "node", ".js");
    private static readonly CodeLanguage Bash = new("bash", "bash", ".sh");
    private static readonly CodeLanguage Sh = new("sh", "sh", ".sh");
    private static readonly CodeLanguage Ruby = new("ruby", "ruby", ".rb");

    private static readonly string[] NodeHints = ["console.log", "require(", "=>", "const ", "let ", "function ", "process."];

    /// <summary>The language for an explicit name, or detected from the code when <paramref name="language"/> is null. Null = unsupported.</summary>
    public static CodeLanguage? Resolve(string? language, string code)
    {
        if (language is not null)
        {
            return ByName(language.Trim().ToLowerInvariant());
        }

        if (code.StartsWith("#!", StringComparison.Ordinal))
        {
            var line = code.AsSpan(2, (code.IndexOf('\n', StringComparison.Ordinal) is var nl and >= 0 ? nl : code.Length) - 2).Trim().ToString();
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var program = parts.Length == 0 ? "" : Path.GetFileName(parts[0]);
            if (program == "env" && parts.Length > 1)
            {
                program = parts[1];
            }

            if (program.StartsWith("python", StringComparison.Ordinal))
            {
                return Python;
            }

            if (ByName(program) is { } named)
            {
                return named;
            }
        }

        if (NodeHints.Any(h => code.Contains(h, StringComparison.Ordinal)))
        {
            return Node;
        }

        return Python; // print(, def, import, elif, f" — or nothing recognisable: python is the default
    }

    private static CodeLanguage? ByName(string name) => name switch
    {
        "python" or "python3" => Python,
        "node" or "javascript" or "js" or "nodejs" => Node,
        "bash" => Bash,
        "sh" => Sh,
        "ruby" => Ruby,
        _ => null,
    };

    /// <summary>The interpreter's full path from PATH, or null when it is not installed.</summary>
    public static string? FindInterpreter(CodeLanguage language)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, language.Interpreter);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
