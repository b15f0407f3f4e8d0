using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Architecture;

/// <summary>
/// The agent's folders are layers (docs/architecture.md): a folder uses only folders of lower layers, so features never
/// use each other (they meet through the named interfaces in Core) and no two folders form a cycle.
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The layers of the agent, lowest first. A new folder must be placed here deliberately.</summary>
    public static readonly IReadOnlyDictionary<string, int> AgentLayers = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        // 0 — the operating system (the only LibraryImports), the meter every layer records to (BCL only), and the one
        // domain exception every layer throws (no HTTP in it). SHA-1 and SHA-256 live in common/ (Sandboxd.Common),
        // shared with the gateway.
        ["Native"] = 0, ["Telemetry"] = 0, ["Errors"] = 0,
        // 1 — platform services: files, state, ports, the WebSocket handshake, processes
        ["FileSystem"] = 1, ["State"] = 1, ["Ports"] = 1, ["WebSockets"] = 1, ["Processes"] = 1,
        // 2 — the kernel: sandbox contexts, options, the API's error model, the contracts between features
        ["Core"] = 2,
        // 3 — the live hub every feature publishes to
        ["Live"] = 3,
        // 4 — services that several features build on: credentials, terminals and their commands
        ["Auth"] = 4, ["Terminals"] = 4,
        // 5 — features: routes and the state they own
        ["Env"] = 5, ["Files"] = 5, ["Info"] = 5, ["Overlays"] = 5, ["Preview"] = 5, ["Run"] = 5, ["Sandboxes"] = 5,
        ["Servers"] = 5, ["Signals"] = 5, ["Watch"] = 5, ["Workspace"] = 5,
        ["ProcessList"] = 5, ["Metrics"] = 5,
        // 6 — composition: the host (middleware, wiring) and the command-line client
        ["Hosting"] = 6, ["Cli"] = 6,
        // 7 — Program.cs
        [FolderLayers.RootFolder] = 7,
    };

    private static List<(string RelativePath, string Text)> AgentSources()
    {
        var agent = Path.Combine(AgentBinary.RepoRoot, "agent");
        return [.. Directory.EnumerateFiles(agent, "*.cs", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(agent, f))
            .Where(f => !f.StartsWith("bin/", StringComparison.Ordinal) && !f.StartsWith("obj/", StringComparison.Ordinal))
            .Select(f => (f, File.ReadAllText(Path.Combine(agent, f))))];
    }

    [Fact]
    public void Every_folder_of_the_agent_has_a_layer_and_its_namespace()
    {
        var sources = AgentSources();
        sources.Should().HaveCountGreaterThan(100, "the agent's sources are found");
        var folders = sources.Select(s => FolderLayers.FolderOf(s.RelativePath)).Distinct().ToList();
        folders.Should().OnlyContain(f => AgentLayers.ContainsKey(f),
            "a new folder is placed in a layer deliberately (LayeringTests.AgentLayers, docs/architecture.md)");
        AgentLayers.Keys.Should().OnlyContain(f => folders.Contains(f), "the table names only folders that exist, so it stays the true picture");
        var wrongNamespace = sources.Where(s => FolderLayers.FolderOf(s.RelativePath) != FolderLayers.RootFolder)
            .Where(s => !s.Text.Contains($"namespace Sandboxd.{FolderLayers.FolderOf(s.RelativePath)};", StringComparison.Ordinal))
            .Select(s => s.RelativePath);
        wrongNamespace.Should().BeEmpty("a file's folder names its namespace, so its folder names its layer");
    }

    [Fact]
    public void The_agent_folders_use_only_lower_layers_and_form_no_cycle()
    {
        var edges = FolderLayers.Edges(AgentSources());
        edges.Should().NotBeEmpty();
        FolderLayers.FindCycle(edges).Should().BeNull();
        FolderLayers.Violations(edges, AgentLayers).Should().BeEmpty();
    }

    [Fact]
    public void The_check_finds_a_cycle_and_a_feature_that_uses_another()
    {
        (string, string)[] sources =
        [
            ("Core/A.cs", "namespace Sandboxd.Core;\nclass A { }"),
            ("Servers/S.cs", "using Sandboxd.Core;\nusing Sandboxd.Overlays;\nnamespace Sandboxd.Servers;\nclass S { }"),
            ("Overlays/O.cs", "namespace Sandboxd.Overlays;\nclass O { Servers.S s; Sandboxd.Core.A a; }"),
        ];
        var edges = FolderLayers.Edges(sources);

        edges.Select(e => (e.From, e.To)).Should().BeEquivalentTo([("Servers", "Core"), ("Servers", "Overlays"), ("Overlays", "Servers"), ("Overlays", "Core")]);
        FolderLayers.FindCycle(edges).Should().Be("Overlays → Servers → Overlays");
        FolderLayers.Violations(edges, AgentLayers).Should().HaveCount(2);
    }
}
