using System.Text.RegularExpressions;

namespace Sandboxd.Tests.Architecture;

/// <summary>
/// Reads C# sources and finds which top-level folder uses which: <c>using Sandboxd.X;</c>, <c>Sandboxd.X.</c> anywhere,
/// and a partially qualified <c>X.Type</c> (inside <c>namespace Sandboxd.…</c> that resolves to <c>Sandboxd.X.Type</c>).
/// Unused usings cannot add false edges: IDE0005 is an error in the agent's build (.editorconfig).
/// </summary>
public static partial class FolderLayers
{
    public sealed record Edge(string From, string To, string File);

    /// <summary>Each source as (path relative to the project, text); returns every folder-to-folder use.</summary>
    public static IReadOnlyList<Edge> Edges(IEnumerable<(string RelativePath, string Text)> sources)
    {
        var files = sources.Select(s => (Folder: FolderOf(s.RelativePath), s.RelativePath, s.Text)).ToList();
        var folders = files.Select(f => f.Folder).Where(f => f != RootFolder).ToHashSet(StringComparer.Ordinal);
        var partial = new Regex(@"(?<![\w.])(" + string.Join('|', folders.Select(Regex.Escape)) + @")\.[A-Z]\w*", RegexOptions.CultureInvariant);
        var edges = new List<Edge>();
        foreach (var (folder, path, text) in files)
        {
            var used = Qualified().Matches(text).Select(m => m.Groups[1].Value)
                .Concat(folders.Count == 0 ? [] : partial.Matches(text).Select(m => m.Groups[1].Value))
                .Where(f => folders.Contains(f) && f != folder)
                .Distinct(StringComparer.Ordinal);
            edges.AddRange(used.Select(to => new Edge(folder, to, path)));
        }

        return edges;
    }

    /// <summary>The uses that break the layering: towards a folder of the same or a higher layer, or a folder without one.</summary>
    public static IEnumerable<string> Violations(IReadOnlyList<Edge> edges, IReadOnlyDictionary<string, int> layers) =>
        edges.Where(e => !layers.TryGetValue(e.From, out var from) || !layers.TryGetValue(e.To, out var to) || to >= from)
            .Select(e => $"{e.File}: {e.From} (layer {Layer(layers, e.From)}) uses {e.To} (layer {Layer(layers, e.To)})");

    /// <summary>A cycle between folders as "A → B → A", or null when the graph has none.</summary>
    public static string? FindCycle(IReadOnlyList<Edge> edges)
    {
        var next = edges.GroupBy(e => e.From, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.To).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on the path, 2 = done
        var path = new List<string>();

        string? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var to in next.GetValueOrDefault(node) ?? [])
            {
                if (state.GetValueOrDefault(to) == 1)
                {
                    return string.Join(" → ", path.Skip(path.IndexOf(to)).Append(to));
                }

                if (state.GetValueOrDefault(to) == 0 && Visit(to) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }

        return next.Keys.Order(StringComparer.Ordinal).Where(n => state.GetValueOrDefault(n) == 0).Select(Visit).FirstOrDefault(c => c is not null);
    }

    public const string RootFolder = "(root)";

    public static string FolderOf(string relativePath)
    {
        var parts = relativePath.Replace('\\', '/').Split('/');
        return parts.Length == 1 ? RootFolder : parts[0];
    }

    private static string Layer(IReadOnlyDictionary<string, int> layers, string folder) =>
        layers.TryGetValue(folder, out var layer) ? layer.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";

    [GeneratedRegex(@"\bSandboxd\.(\w+)", RegexOptions.CultureInvariant)]
    private static partial Regex Qualified();
}
