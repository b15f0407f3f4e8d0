using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary>Source-generated JSON metadata for every wire record (snake_case; camelCase fields are named explicitly).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(Envelope<InfoData>))]
[JsonSerializable(typeof(ReadyResponse))]
[JsonSerializable(typeof(Envelope<AuthStatusData>))]
[JsonSerializable(typeof(Envelope<AuthInfoData>))]
[JsonSerializable(typeof(RunCommandRequest))]
[JsonSerializable(typeof(Envelope<CommandResult>))]
[JsonSerializable(typeof(RunCodeRequest))]
[JsonSerializable(typeof(Envelope<RunCodeData>))]
[JsonSerializable(typeof(Envelope<CommandInfo>))]
[JsonSerializable(typeof(Envelope<CommandList>))]
[JsonSerializable(typeof(Envelope<FileListData>))]
[JsonSerializable(typeof(WriteFileRequest))]
[JsonSerializable(typeof(Envelope<FileData>))]
[JsonSerializable(typeof(BatchFilesRequest))]
[JsonSerializable(typeof(Envelope<BatchFilesData>))]
[JsonSerializable(typeof(Envelope<EnvData>))]
[JsonSerializable(typeof(Envelope<EnvKeysData>))]
[JsonSerializable(typeof(EnvUpdateRequest))]
[JsonSerializable(typeof(EnvDeleteRequest))]
[JsonSerializable(typeof(CreateTerminalRequest))]
[JsonSerializable(typeof(Envelope<TerminalInfo>))]
[JsonSerializable(typeof(Envelope<TerminalList>))]
[JsonSerializable(typeof(TerminalExecuteRequest))]
[JsonSerializable(typeof(CreateWatcherRequest))]
[JsonSerializable(typeof(Envelope<WatcherInfo>))]
[JsonSerializable(typeof(Envelope<WatcherList>))]
[JsonSerializable(typeof(Envelope<SignalStatusData>))]
[JsonSerializable(typeof(PortSignalRequest))]
[JsonSerializable(typeof(Envelope<PortSignalData>))]
[JsonSerializable(typeof(ErrorSignalData))]
[JsonSerializable(typeof(Envelope<ErrorSignalData>))]
[JsonSerializable(typeof(StartServerRequest))]
[JsonSerializable(typeof(Envelope<ServerData>))]
[JsonSerializable(typeof(Envelope<ServerList>))]
[JsonSerializable(typeof(Envelope<ServerSlugData>))]
[JsonSerializable(typeof(Envelope<ServerLogsData>))]
[JsonSerializable(typeof(ServerStatusData))]
[JsonSerializable(typeof(Envelope<ServerStatusData>))]
[JsonSerializable(typeof(CreateOverlayRequest))]
[JsonSerializable(typeof(OverlayInfo))]
[JsonSerializable(typeof(OverlayList))]
public sealed partial class ProtocolJsonContext : JsonSerializerContext;
