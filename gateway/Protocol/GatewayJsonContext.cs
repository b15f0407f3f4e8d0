using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandboxd.Gateway.Protocol;

/// <summary>Source-generated JSON metadata for every gateway wire record (camelCase, nulls omitted, strict numbers).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(SuccessResponse))]
[JsonSerializable(typeof(CreateSandboxRequest))]
[JsonSerializable(typeof(FindSandboxRequest))]
[JsonSerializable(typeof(ExtendSandboxRequest))]
[JsonSerializable(typeof(Envelope<SandboxInfo>))]
[JsonSerializable(typeof(CreateSnapshotRequest))]
[JsonSerializable(typeof(Envelope<SnapshotInfo>))]
[JsonSerializable(typeof(Envelope<IReadOnlyList<SnapshotInfo>>))]
[JsonSerializable(typeof(AgentSetup))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
