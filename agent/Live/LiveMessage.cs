using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Sandboxd.Protocol;

namespace Sandboxd.Live;

/// <summary>
/// One daemon → client message: <c>{"type", "channel"?, "data":{…}}</c>. The data is one of the client's typed records
/// (<c>client/Protocol/Live.cs</c>), written with the client's source-generated <see cref="LiveJsonContext"/>, so the two
/// sides cannot drift. Data values are strings, numbers or booleans (the only kinds the binary frame format carries),
/// so the same message can be written as JSON or as a binary frame (<see cref="BinaryFrames.Encode"/>).
/// </summary>
internal abstract class LiveMessage(string type, string? channel)
{
    public string Type { get; } = type;
    public string? Channel { get; } = channel;

    private byte[]? _json;

    /// <summary>Called by the send loop once the frame was written to the socket (stream delivery accounting).</summary>
    public Action? Sent { get; set; }

    /// <summary>The JSON text frame, serialized once however many sockets receive it.</summary>
    public byte[] Json => _json ??= WriteJson();

    /// <summary>Types the client's binary decoder turns into structured data (daemon-websocket.md §3.2).</summary>
    public bool BinaryCapable => Type is "terminal:output" or "file:changed" or "signal";

    public long ApproximateSize => Json.Length;

    /// <summary>Writes the data object alone (the value of <c>data</c>).</summary>
    public abstract void WriteData(Utf8JsonWriter writer);

    private byte[] WriteJson()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", Type);
            if (Channel is not null)
            {
                writer.WriteString("channel", Channel);
            }

            writer.WritePropertyName("data");
            WriteData(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private sealed class Typed<T>(string type, string? channel, T data, JsonTypeInfo<T> info) : LiveMessage(type, channel)
    {
        public override void WriteData(Utf8JsonWriter writer) => JsonSerializer.Serialize(writer, data, info);
    }

    private static LiveJsonContext Context => LiveJsonContext.Default;

    public static LiveMessage TerminalOutput(string channel, TerminalOutputEvent data) => new Typed<TerminalOutputEvent>("terminal:output", channel, data, Context.TerminalOutputEvent);
    public static LiveMessage TerminalCreated(string channel, TerminalCreatedEvent data) => new Typed<TerminalCreatedEvent>("terminal:created", channel, data, Context.TerminalCreatedEvent);
    public static LiveMessage TerminalDestroyed(string channel, TerminalDestroyedEvent data) => new Typed<TerminalDestroyedEvent>("terminal:destroyed", channel, data, Context.TerminalDestroyedEvent);
    public static LiveMessage TerminalError(string channel, TerminalErrorEvent data) => new Typed<TerminalErrorEvent>("terminal:error", channel, data, Context.TerminalErrorEvent);

    /// <param name="type"><c>command:stdout</c> or <c>command:stderr</c>.</param>
    public static LiveMessage CommandOutput(string type, string channel, CommandOutputEvent data) => new Typed<CommandOutputEvent>(type, channel, data, Context.CommandOutputEvent);
    public static LiveMessage CommandExit(string channel, CommandExitEvent data) => new Typed<CommandExitEvent>("command:exit", channel, data, Context.CommandExitEvent);
    public static LiveMessage OutputLost(string channel, OutputLostEvent data) => new Typed<OutputLostEvent>("output:lost", channel, data, Context.OutputLostEvent);
    public static LiveMessage FileChanged(string channel, FileChangedEvent data) => new Typed<FileChangedEvent>("file:changed", channel, data, Context.FileChangedEvent);

    /// <param name="type"><c>watcher:created</c>, <c>watcher:destroyed</c> or <c>watcher:warning</c>.</param>
    public static LiveMessage Watcher(string type, string channel, WatcherLifecycleEvent data) => new Typed<WatcherLifecycleEvent>(type, channel, data, Context.WatcherLifecycleEvent);
    public static LiveMessage Signal(string channel, SignalEvent data) => new Typed<SignalEvent>("signal", channel, data, Context.SignalEvent);

    /// <param name="type"><c>sandbox.created</c> or <c>sandbox.deleted</c>.</param>
    public static LiveMessage Sandbox(string type, SandboxEvent data) => new Typed<SandboxEvent>(type, null, data, Context.SandboxEvent);
}
