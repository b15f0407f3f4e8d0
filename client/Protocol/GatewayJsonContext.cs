using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Sandboxd.Protocol;

/// <summary>Source-generated JSON metadata for the gateway's routes (camelCase, as the ComputeSDK gateway speaks it).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(GatewayErrorResponse))]
[JsonSerializable(typeof(CreateGatewaySandboxRequest))]
[JsonSerializable(typeof(FindGatewaySandboxRequest))]
[JsonSerializable(typeof(ExtendGatewaySandboxRequest))]
[JsonSerializable(typeof(CreateGatewaySnapshotRequest))]
[JsonSerializable(typeof(GatewayEnvelope<GatewaySandboxInfo>))]
[JsonSerializable(typeof(GatewayEnvelope<GatewaySnapshotInfo>))]
[JsonSerializable(typeof(GatewayEnvelope<IReadOnlyList<GatewaySnapshotInfo>>))]
public sealed partial class GatewayJsonContext : JsonSerializerContext;

/// <summary>Writes and reads a daemon record inside a gateway body with the daemon's own (snake_case) metadata.</summary>
internal abstract class DaemonRecordConverter<T> : JsonConverter<T>
{
    protected abstract JsonTypeInfo<T> TypeInfo { get; }

    public override T? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize(ref reader, TypeInfo);

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, TypeInfo);
}

/// <summary>Overlay options in a gateway create request (daemon names).</summary>
internal sealed class OverlayRequestsConverter : DaemonRecordConverter<IReadOnlyList<CreateOverlayRequest>>
{
    protected override JsonTypeInfo<IReadOnlyList<CreateOverlayRequest>> TypeInfo => ProtocolJsonContext.Default.IReadOnlyListCreateOverlayRequest;
}

/// <summary>Server options in a gateway create request (daemon names).</summary>
internal sealed class ServerRequestsConverter : DaemonRecordConverter<IReadOnlyList<StartServerRequest>>
{
    protected override JsonTypeInfo<IReadOnlyList<StartServerRequest>> TypeInfo => ProtocolJsonContext.Default.IReadOnlyListStartServerRequest;
}

/// <summary>Overlays in a gateway answer (<c>copy_status</c>).</summary>
internal sealed class SandboxOverlaysConverter : DaemonRecordConverter<IReadOnlyList<SandboxOverlay>>
{
    protected override JsonTypeInfo<IReadOnlyList<SandboxOverlay>> TypeInfo => ProtocolJsonContext.Default.IReadOnlyListSandboxOverlay;
}

/// <summary>Servers in a gateway answer (daemon names).</summary>
internal sealed class SandboxServersConverter : DaemonRecordConverter<IReadOnlyList<SandboxServer>>
{
    protected override JsonTypeInfo<IReadOnlyList<SandboxServer>> TypeInfo => ProtocolJsonContext.Default.IReadOnlyListSandboxServer;
}
