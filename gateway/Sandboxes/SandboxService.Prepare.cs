using System.Text.Json;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;
using Sandboxd.Gateway.Providers;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Sandboxes;

internal sealed partial class SandboxService
{
    private static readonly string[] ForbiddenDirectories = ["/proc", "/dev", "/sys"];

    /// <summary>Validates the create options (400 with a clear message) and builds the <c>creating</c> record.</summary>
    private async Task<(SandboxRecord Record, SandboxSpec Spec)> PrepareAsync(Owner owner, CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        CheckName(request.Name, "name");
        CheckName(request.Namespace, "namespace");
        if (request.Timeout is <= 0)
        {
            throw BadRequest("timeout must be a positive number of milliseconds.");
        }

        var metadata = ObjectOrNull(request.Metadata, "metadata");
        CheckEnvs(request.Envs);
        var setup = SetupJson(request);
        var directory = CheckDirectory(request.Directory);
        string? archive = null;
        if (request.SnapshotId is { } snapshotId)
        {
            var snapshot = await store.GetSnapshotAsync(snapshotId, cancellationToken);
            archive = snapshot is not null && snapshot.Owner == owner.KeyHash && provider.HasSnapshot(snapshot.ArchivePath)
                ? snapshot.ArchivePath
                : throw new GatewayException(GatewayErrorCode.NotFound, $"Snapshot {snapshotId} not found.");
        }

        var spec = new SandboxSpec(request.Envs, directory, setup, archive, CheckLimits(request));
        var id = Ids.New("sbx");
        var placement = provider.Place(id, spec, await store.ListActiveAsync(cancellationToken));
        var now = time.GetUtcNow();
        var record = new SandboxRecord(
            id, owner.KeyHash, request.Namespace, request.Name, SandboxStatus.Creating, provider.Name, placement.Dir, placement.Root, now,
            ExpiresAt: request.Timeout is { } timeout ? now + TimeSpan.FromMilliseconds(timeout) : null,
            MetadataJson: metadata?.GetRawText(),
            Engine: placement.Engine);
        return (record, spec);
    }

    /// <summary><c>memoryMb</c> (≥ 6, Docker's floor), <c>cpus</c> (&gt; 0), <c>pids</c> (≥ 16); all optional.</summary>
    private static SandboxLimits? CheckLimits(CreateSandboxRequest request)
    {
        if (request.MemoryMb is < 6)
        {
            throw BadRequest("memoryMb must be at least 6 (MiB).");
        }

        if (request.Cpus is { } cpus && (cpus <= 0 || !double.IsFinite(cpus)))
        {
            throw BadRequest("cpus must be a positive number.");
        }

        if (request.Pids is < 16)
        {
            throw BadRequest("pids must be at least 16.");
        }

        return request.MemoryMb is null && request.Cpus is null && request.Pids is null
            ? null
            : new SandboxLimits(request.MemoryMb, request.Cpus, request.Pids);
    }

    private static void CheckName(string? value, string field)
    {
        if (value is not null && (value.Length is 0 or > 256 || value.Any(char.IsControl)))
        {
            throw BadRequest($"{field} must be 1-256 printable characters.");
        }
    }

    private static JsonElement? ObjectOrNull(JsonElement? value, string field) => value switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.Object } => value,
        _ => throw BadRequest($"{field} must be a JSON object."),
    };

    private static void CheckEnvs(Dictionary<string, string>? envs)
    {
        foreach (var (name, value) in envs ?? [])
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal) || value.Contains('\0', StringComparison.Ordinal))
            {
                throw BadRequest($"envs: '{name}' is not a valid environment variable (no '=' in names, no NUL anywhere).");
            }
        }
    }

    private static string? SetupJson(CreateSandboxRequest request)
    {
        var overlays = ArrayOrNull(request.Overlays, "overlays");
        var servers = ArrayOrNull(request.Servers, "servers");
        return overlays is null && servers is null
            ? null
            : JsonSerializer.Serialize(new AgentSetup(overlays, servers), GatewayJsonContext.Default.AgentSetup);
    }

    private static JsonElement? ArrayOrNull(JsonElement? value, string field) => value switch
    {
        null or { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.Array } => value,
        _ => throw BadRequest($"{field} must be a JSON array."),
    };

    /// <summary>An absolute path the agent serves as its root (honoured under isolation; see docs/gateway.md).</summary>
    private string? CheckDirectory(string? directory)
    {
        if (directory is null)
        {
            return null;
        }

        if (!Path.IsPathFullyQualified(directory) || directory.Contains('\0', StringComparison.Ordinal))
        {
            throw BadRequest("directory must be an absolute path.");
        }

        var full = Path.GetFullPath(directory).TrimEnd('/');
        if (full.Length == 0 || ForbiddenDirectories.Any(d => full == d || full.StartsWith(d + "/", StringComparison.Ordinal))
            || full == options.StateDir || full.StartsWith(options.StateDir + "/", StringComparison.Ordinal))
        {
            throw BadRequest($"directory {directory} cannot be a sandbox root.");
        }

        return full;
    }

    private static GatewayException BadRequest(string message) => new(GatewayErrorCode.BadRequest, message);
}
