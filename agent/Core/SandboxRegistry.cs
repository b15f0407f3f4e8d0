using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sandboxd.State;

namespace Sandboxd.Core;

/// <summary>A child sandbox as kept in the state directory.</summary>
internal sealed record ChildRecord(
    string Subdomain, string Directory, DateTime CreatedAt, string? Name, string? Namespace,
    Dictionary<string, string>? Envs, JsonElement? Metadata);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<ChildRecord>))]
internal sealed partial class SandboxStateJsonContext : JsonSerializerContext;

/// <summary>The main sandbox and its children, by subdomain; children persist across agent restarts.</summary>
internal sealed class SandboxRegistry
{
    private const string StateFile = "sandboxes.json";
    private readonly ConcurrentDictionary<string, SandboxContext> _children = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChildRecord> _records = new(StringComparer.Ordinal);
    private readonly StateStore _state;
    private readonly Lock _gate = new();
    private readonly AgentOptions _options;

    public SandboxRegistry(AgentOptions options, StateStore state)
    {
        _state = state;
        _options = options;
        Main = new SandboxContext("main", Path.GetFullPath(options.Root), isMain: true, basePath: "") { ProtectedDirectory = Path.GetFullPath(options.StateDir) };
        var moved = false;
        foreach (var record in Load())
        {
            var kept = record;
            if (Main.IsProtected(record.Directory) && MoveOutOfState(record) is { } movedRecord)
            {
                kept = movedRecord;
                moved = true;
            }

            Add(kept);
        }

        if (moved)
        {
            Save();
        }
    }

    /// <summary>Earlier agents kept default child roots in &lt;state&gt;/sandboxes: they move to the sandboxes directory.</summary>
    private ChildRecord? MoveOutOfState(ChildRecord record)
    {
        var target = Path.Combine(_options.ChildSandboxesDir, record.Subdomain);
        try
        {
            Directory.CreateDirectory(_options.ChildSandboxesDir);
            if (Directory.Exists(record.Directory) && !Directory.Exists(target))
            {
                Directory.Move(record.Directory, target);
            }

            Directory.CreateDirectory(target);
            return record with { Directory = target };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // stays where it is; its file routes refuse the state directory all the same
        }
    }

    public SandboxContext Main { get; }

    public int Count => 1 + _children.Count;

    public bool TryGetChild(string subdomain, out SandboxContext context) => _children.TryGetValue(subdomain, out context!);

    /// <summary>
    /// A context for a subdomain that does not exist, used only for requests without a valid token: the public routes
    /// answer it exactly as they answer an existing child with nothing in it, so they do not reveal which subdomains exist.
    /// It is registered nowhere and has no root on disk.
    /// </summary>
    public SandboxContext Unknown(string subdomain) =>
        new(subdomain, Path.Combine(_options.ChildSandboxesDir, subdomain), isMain: false, basePath: "/s/" + subdomain) { ProtectedDirectory = Main.ProtectedDirectory };

    public IEnumerable<(SandboxContext Context, ChildRecord Record)> Children =>
        _records.Values.OrderBy(r => r.CreatedAt).Select(r => (_children[r.Subdomain], r));

    public ChildRecord Record(SandboxContext child) => _records[child.Subdomain];

    /// <summary>Creates a child, or returns the live one with the same name and namespace (idempotent findOrCreate).</summary>
    public (SandboxContext Context, bool Created) GetOrCreate(string? name, string? @namespace, Func<string, ChildRecord> create)
    {
        lock (_gate)
        {
            if (name is not null)
            {
                var existing = _records.Values.FirstOrDefault(r => r.Name == name && r.Namespace == @namespace);
                if (existing is not null)
                {
                    return (_children[existing.Subdomain], false);
                }
            }

            string subdomain;
            do
            {
                subdomain = Ids.New("sandbox-")[..16];
            }
            while (_children.ContainsKey(subdomain));

            var record = create(subdomain);
            Native.WorkloadUser.Current.CreateDirectory(record.Directory); // the child sandbox's workload writes there
            var context = Add(record);
            Save();
            return (context, true);
        }
    }

    private SandboxContext Add(ChildRecord record)
    {
        var context = new SandboxContext(record.Subdomain, record.Directory, isMain: false, basePath: "/s/" + record.Subdomain)
        {
            Environment = record.Envs ?? [],
            ProtectedDirectory = Main.ProtectedDirectory,
        };
        _children[record.Subdomain] = context;
        _records[record.Subdomain] = record;
        return context;
    }

    public bool Remove(string subdomain, out SandboxContext context)
    {
        lock (_gate)
        {
            if (!_children.TryRemove(subdomain, out context!))
            {
                return false;
            }

            _records.TryRemove(subdomain, out _);
            Save();
            return true;
        }
    }

    private List<ChildRecord> Load()
    {
        try
        {
            return _state.Read(StateFile, SandboxStateJsonContext.Default.ListChildRecord) ?? [];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return [];
        }
    }

    private void Save() => _state.Write(StateFile, [.. _records.Values.OrderBy(r => r.CreatedAt)], SandboxStateJsonContext.Default.ListChildRecord);
}
