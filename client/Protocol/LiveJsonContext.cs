using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary>Source-generated JSON metadata for the WebSocket messages (same conventions as <see cref="ProtocolJsonContext"/>).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ClientMessage<SubscribeData>))]
[JsonSerializable(typeof(ClientMessage<TerminalInputData>))]
[JsonSerializable(typeof(ClientMessage<TerminalResizeData>))]
[JsonSerializable(typeof(ClientMessage<CommandStartData>))]
[JsonSerializable(typeof(TerminalOutputEvent))]
[JsonSerializable(typeof(TerminalCreatedEvent))]
[JsonSerializable(typeof(TerminalDestroyedEvent))]
[JsonSerializable(typeof(TerminalErrorEvent))]
[JsonSerializable(typeof(CommandOutputEvent))]
[JsonSerializable(typeof(CommandExitEvent))]
[JsonSerializable(typeof(OutputLostEvent))]
[JsonSerializable(typeof(FileChangedEvent))]
[JsonSerializable(typeof(WatcherLifecycleEvent))]
[JsonSerializable(typeof(SignalEvent))]
[JsonSerializable(typeof(SandboxEvent))]
[JsonSerializable(typeof(SubscribeData))]
[JsonSerializable(typeof(TerminalInputData))]
[JsonSerializable(typeof(TerminalResizeData))]
[JsonSerializable(typeof(CommandStartData))]
public sealed partial class LiveJsonContext : JsonSerializerContext;
