using System.Text;

namespace Sandboxd.FileSystem;

/// <summary>
/// A <c>.env</c> file as lines: <c>KEY=VALUE</c> entries (optional <c>export </c>), blank lines and <c>#</c> comments kept
/// as they are. Double-quoted values unescape <c>\n \" \\</c>; single-quoted are literal; bare values are trimmed.
/// </summary>
internal sealed class EnvFile
{
    private readonly List<Line> _lines = [];

    private sealed record Line(string Raw, string? Key, string? Value);

    /// <summary>A value written without quotes: one or more of <c>A-Z a-z 0-9 _ . / : @ + -</c>.</summary>
    private static bool IsBare(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or ':' or '@' or '+' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static EnvFile Parse(string text)
    {
        var file = new EnvFile();
        foreach (var raw in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            file._lines.Add(ParseLine(raw));
        }

        if (file._lines.Count > 0 && file._lines[^1].Raw.Length == 0)
        {
            file._lines.RemoveAt(file._lines.Count - 1); // the final newline
        }

        return file;
    }

    private static Line ParseLine(string raw)
    {
        var trimmed = raw.TrimStart();
        if (trimmed.Length == 0 || trimmed[0] == '#')
        {
            return new Line(raw, null, null);
        }

        if (trimmed.StartsWith("export ", StringComparison.Ordinal))
        {
            trimmed = trimmed["export ".Length..].TrimStart();
        }

        var eq = trimmed.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            return new Line(raw, null, null);
        }

        var key = trimmed[..eq].Trim();
        var value = trimmed[(eq + 1)..].Trim();
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            value = Unescape(value[1..^1]);
        }
        else if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
        {
            value = value[1..^1];
        }

        return new Line(raw, key, value);
    }

    private static string Unescape(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                var next = value[i + 1];
                switch (next)
                {
                    case 'n': sb.Append('\n'); i++; continue;
                    case '"': sb.Append('"'); i++; continue;
                    case '\\': sb.Append('\\'); i++; continue;
                }
            }

            sb.Append(value[i]);
        }

        return sb.ToString();
    }

    public static string Format(string key, string value) =>
        IsBare(value)
            ? $"{key}={value}"
            : $"{key}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"";

    /// <summary>Variables in file order (a key defined twice: the last definition wins).</summary>
    public Dictionary<string, string> Variables()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in _lines)
        {
            if (line.Key is not null)
            {
                result[line.Key] = line.Value!;
            }
        }

        return result;
    }

    /// <summary>Updates existing keys in place and appends new ones in the given order.</summary>
    public void Set(IEnumerable<KeyValuePair<string, string>> variables)
    {
        foreach (var (key, value) in variables)
        {
            var formatted = Format(key, value);
            var index = _lines.FindIndex(l => l.Key == key);
            if (index >= 0)
            {
                _lines[index] = new Line(formatted, key, value);
                _lines.RemoveAll(l => l.Key == key && !ReferenceEquals(l, _lines[index]));
            }
            else
            {
                _lines.Add(new Line(formatted, key, value));
            }
        }
    }

    /// <summary>Removes the keys that exist; returns them in the given order.</summary>
    public List<string> Remove(IEnumerable<string> keys)
    {
        var removed = new List<string>();
        foreach (var key in keys)
        {
            if (_lines.RemoveAll(l => l.Key == key) > 0)
            {
                removed.Add(key);
            }
        }

        return removed;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var line in _lines)
        {
            sb.Append(line.Raw).Append('\n');
        }

        return sb.ToString();
    }
}
