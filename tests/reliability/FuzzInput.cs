using System.Globalization;
using System.Text;

namespace Sandboxd.Reliability;

/// <summary>
/// Seeded generator of hostile input over the protocol's shapes: JSON values of every kind (deep, huge, wrong types,
/// escapes of lone surrogates), broken JSON text, invalid UTF-8. Strings that reach a shell, a path or a server start
/// come from safe pools, so a fuzz case can fail only by the agent's fault, never by deleting the tester's files.
/// </summary>
public sealed class FuzzInput(int seed)
{
    private static readonly string[] Commands = ["true", "echo fuzz", "exit 3", "printf %s x", "sleep 0.05", "cat /dev/null", "echo é€😀 >&2"];
    private static readonly string[] Starts = ["sleep 20", "true", "exit 1", "echo started"];
    private static readonly string[] Weird =
    [
        "", " ", "\u0000", "\t\r\n", "%00", "%2F", "%", "\\", "\"", "'", "$(x)", "`x`", "é", "😀", "\u202e", "\ufeff", "null", "-1",
        "NaN", "1e999", "{", "[]", "%2e%2e", "a/b", "/", "//", "?x=1", "#frag", "\u0001\u0002", new string('a', 300), new string('é', 5000),
    ];

    private readonly Random _random = new(seed);

    public Random Random => _random;

    public int Next(int max) => _random.Next(max);

    public bool Chance(int oneIn) => _random.Next(oneIn) == 0;

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    public string Command() => Chance(4) ? WeirdString() : Pick(Commands);

    public string Start() => Pick(Starts);

    /// <summary>A relative path under fuzz/ (no "." or ".." segment, so nothing outside the sandbox root is ever named).</summary>
    public string RelativePath()
    {
        var segments = 1 + Next(3);
        var parts = new List<string> { "fuzz" };
        for (var i = 0; i < segments; i++)
        {
            var segment = Next(6) switch
            {
                0 => Pick(Weird).Replace("/", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal),
                1 => new string('x', 1 + Next(400)),
                _ => "f" + Next(50).ToString(CultureInfo.InvariantCulture),
            };
            parts.Add(segment.Length == 0 ? "e" : segment);
        }

        return string.Join('/', parts);
    }

    public string WeirdString() => Next(4) switch
    {
        0 => Pick(Weird),
        1 => RandomText(1 + Next(64)),
        2 => Pick(Weird) + RandomText(Next(8)) + Pick(Weird),
        _ => "w" + Next(1000).ToString(CultureInfo.InvariantCulture),
    };

    public string RandomText(int length)
    {
        var builder = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            builder.Append(Next(5) switch
            {
                0 => (char)Next(32),
                1 => (char)(0x80 + Next(0x700)),
                2 => char.ConvertFromUtf32(0x1F600 + Next(50)),
                _ => (char)(32 + Next(95)),
            });
        }

        return builder.ToString();
    }

    /// <summary>A JSON value of any kind, as text (may contain escapes System.Text.Json would never write).</summary>
    public string Value(int depth = 0)
    {
        switch (Next(depth > 3 ? 7 : 10))
        {
            case 0: return "null";
            case 1: return Chance(2) ? "true" : "false";
            case 2: return Pick(["0", "-1", "-0", "1.5", "1e308", "-1e308", "1e999", "99999999999999999999999999", "9223372036854775808", "4294967296", "65536", "0.0000001"]);
            case 3: return Next(1_000_000).ToString(CultureInfo.InvariantCulture);
            case 4: return Quote(WeirdString());
            case 5: return Pick(["\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\u0000\"", "\"a\\u0000b\""]);
            case 6: return Quote(Chance(20) ? new string('y', 1 << 20) : RandomText(Next(200)));
            case 7: return "[" + string.Join(',', Enumerable.Range(0, Next(5)).Select(_ => Value(depth + 1))) + "]";
            case 8: return JsonObject(Enumerable.Range(0, Next(5)).Select(_ => (WeirdString(), Value(depth + 1))));
            default: return Quote("v" + Next(100).ToString(CultureInfo.InvariantCulture));
        }
    }

    public static string Quote(string s)
    {
        var builder = new StringBuilder("\"");
        foreach (var c in s)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return builder.Append('"').ToString();
    }

    public static string JsonObject(IEnumerable<(string Key, string Value)> fields) =>
        "{" + string.Join(',', fields.Select(f => Quote(f.Key) + ":" + f.Value)) + "}";

    /// <summary>
    /// Mutates a well-formed body for one route: kept as is, one field of the wrong type, fields dropped or added,
    /// another top-level value, cut short, bytes flipped, random bytes, deep nesting, empty, or oversized.
    /// </summary>
    public (byte[] Body, string Kind) Mutate(IReadOnlyList<(string Key, string Value)> fields, long oversize)
    {
        var list = fields.ToList();
        switch (Next(14))
        {
            case 0:
            case 1:
                return (Utf8(JsonObject(list)), "valid");
            case 2:
                if (list.Count > 0)
                {
                    var i = Next(list.Count);
                    list[i] = (list[i].Key, Value());
                }

                return (Utf8(JsonObject(list)), "wrong-type");
            case 3:
                return (Utf8(JsonObject(list.Select(f => (f.Key, Value())))), "all-wrong");
            case 4:
                if (list.Count > 0)
                {
                    list.RemoveAt(Next(list.Count));
                }

                return (Utf8(JsonObject(list)), "missing-field");
            case 5:
                list.Insert(Next(list.Count + 1), (Chance(2) ? WeirdString() : list.Count > 0 ? Pick(list).Key : "x", Value()));
                return (Utf8(JsonObject(list)), "extra-or-duplicate-field");
            case 6:
                return (Utf8(Value()), "other-top-level");
            case 7:
                var text = Utf8(JsonObject(list));
                return (text[..Next(Math.Max(1, text.Length))], "truncated");
            case 8:
                var flipped = Utf8(JsonObject(list));
                for (var i = 0; i < 1 + Next(4) && flipped.Length > 0; i++)
                {
                    flipped[Next(flipped.Length)] = (byte)Next(256);
                }

                return (flipped, "bytes-flipped");
            case 9:
                var bytes = new byte[Next(2000)];
                _random.NextBytes(bytes);
                return (bytes, "random-bytes");
            case 10:
                var depth = Chance(2) ? 100_000 : 70;
                return (Utf8(new string('[', depth) + new string(']', depth)), $"nested-{depth}");
            case 11:
                return ([], "empty");
            case 12:
                return (Utf8(JsonObject([.. list, ("pad", Quote(new string('z', 4 << 20)))])), "4MiB-field");
            default:
                if (Chance(40))
                {
                    // Over the agent's body limit: refused with 413, never buffered whole.
                    var huge = new byte[oversize];
                    huge.AsSpan().Fill((byte)'a');
                    huge[0] = (byte)'"';
                    return (huge, "over-max-body");
                }

                return (Utf8(JsonObject(list.Select(f => (f.Key, Quote(RandomText(50_000)))))), "long-strings");
        }
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
