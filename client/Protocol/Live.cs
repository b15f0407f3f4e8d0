using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary>
/// The <c>data</c> of a client → agent <c>subscribe</c> (sandboxd extension: resume offsets). <see cref="Offset"/> is for
/// single-stream channels (<c>terminal:&lt;id&gt;</c>); <see cref="StdoutOffset"/>/<see cref="StderrOffset"/> are for
/// <c>command:&lt;cmd_id&gt;</c>. All absent = the spec's plain subscribe.
/// </summary>
public sealed record SubscribeData(long? Offset = null, long? StdoutOffset = null, long? StderrOffset = null);

/// <summary>The <c>data</c> of <c>terminal:input</c>: UTF-8 text written to the PTY.</summary>
public sealed record TerminalInputData(string TerminalId, string Input);

/// <summary>The <c>data</c> of <c>terminal:resize</c>.</summary>
/// <remarks>Fractional sizes are rounded when read (binary frames carry numbers as float64: daemon-websocket.md §4).</remarks>
public sealed record TerminalResizeData(
    string TerminalId,
    [property: JsonConverter(typeof(RoundingInt32Converter))] int Cols,
    [property: JsonConverter(typeof(RoundingInt32Converter))] int Rows);

/// <summary>The <c>data</c> of <c>command:start</c>: starts a command created with <c>stream:true</c>.</summary>
public sealed record CommandStartData(string CmdId);

/// <summary>A client → agent message as a JSON text frame: <c>{"type", "channel"?, "data"}</c>.</summary>
/// <typeparam name="T">The data record.</typeparam>
public sealed record ClientMessage<T>(string Type, T Data, string? Channel = null);

/// <summary><c>terminal:output</c> on <c>terminal:&lt;id&gt;</c>. <see cref="NextOffset"/> is the byte offset in the
/// terminal's output after this chunk (sandboxd extension); <see cref="Encoding"/> is <c>base64</c> for base64 terminals.</summary>
/// <remarks>The agent writes the fields in the order of the JSON attributes (its frames have had this order since 1.0).</remarks>
public sealed record TerminalOutputEvent(
    [property: JsonPropertyOrder(0)] string Output,
    [property: JsonPropertyOrder(2)] long? NextOffset = null,
    [property: JsonPropertyOrder(1)] string? Encoding = null);

/// <summary><c>terminal:created</c> (sent to every socket until someone subscribes).</summary>
public sealed record TerminalCreatedEvent(string Id, string? Status = null);

/// <summary><c>terminal:destroyed</c>: the PTY shell ended (always the last message of its channel).</summary>
public sealed record TerminalDestroyedEvent(string Id, int? ExitCode = null);

/// <summary><c>terminal:error</c>.</summary>
public sealed record TerminalErrorEvent(string Error);

/// <summary><c>command:stdout</c> / <c>command:stderr</c> on <c>command:&lt;cmd_id&gt;</c>. <see cref="NextOffset"/> is the
/// byte offset in that stream after this chunk (sandboxd extension; stdout and stderr count separately).</summary>
public sealed record CommandOutputEvent(
    [property: JsonPropertyOrder(2)] string Output,
    [property: JsonPropertyOrder(0)] string? TerminalId = null,
    [property: JsonPropertyOrder(1)] string? CmdId = null,
    [property: JsonPropertyOrder(3)] long? NextOffset = null);

/// <summary><c>command:exit</c>: always the last message of a command's channel.</summary>
public sealed record CommandExitEvent(
    [property: JsonPropertyOrder(2)] int ExitCode,
    [property: JsonPropertyOrder(0)] string? TerminalId = null,
    [property: JsonPropertyOrder(1)] string? CmdId = null,
    [property: JsonPropertyOrder(3)] string? Reason = null,
    [property: JsonPropertyOrder(4)] string? Signal = null);

/// <summary><c>output:lost</c> (sandboxd extension): the bytes between the requested offset and
/// <see cref="FirstAvailable"/> of <see cref="Stream"/> (<c>stdout</c>, <c>stderr</c> or <c>output</c>) were evicted
/// from the agent's replay window before this subscriber could read them.</summary>
public sealed record OutputLostEvent(string Stream, long LostBytes, long FirstAvailable);

/// <summary><c>file:changed</c> on <c>watcher:&lt;id&gt;</c>. <see cref="Event"/> is <c>add</c>, <c>change</c>,
/// <c>unlink</c>, <c>addDir</c> or <c>unlinkDir</c>; <see cref="Seq"/> numbers the watcher's events (sandboxd extension).</summary>
public sealed record FileChangedEvent(
    [property: JsonPropertyOrder(0)] string Event,
    [property: JsonPropertyOrder(1)] string Path,
    [property: JsonPropertyOrder(3)] string? Content = null,
    [property: JsonPropertyOrder(4)] string? Encoding = null,
    [property: JsonPropertyOrder(2)] long? Seq = null);

/// <summary><c>watcher:created</c>, <c>watcher:destroyed</c> and <c>watcher:warning</c> on <c>watcher:&lt;id&gt;</c>.</summary>
public sealed record WatcherLifecycleEvent(string Id, string? Path = null, string? Message = null);

/// <summary><c>signal</c> on <c>signals</c>: <see cref="Signal"/> is <c>port</c>, <c>error</c> or <c>server-ready</c>;
/// <see cref="Type"/> is <c>open</c>/<c>close</c> for port signals; <see cref="Address"/> and <see cref="Pid"/> (sandboxd
/// extension) say which address the port was bound on and, when known, which process holds it.</summary>
public sealed record SignalEvent(
    [property: JsonPropertyOrder(0)] string Signal,
    [property: JsonPropertyOrder(1)] int? Port = null,
    [property: JsonPropertyOrder(3)] string? Url = null,
    [property: JsonPropertyOrder(2)] string? Type = null,
    [property: JsonPropertyOrder(6)] string? Message = null,
    [property: JsonPropertyOrder(4)] string? Address = null,
    [property: JsonPropertyOrder(5)] int? Pid = null);

/// <summary><c>sandbox.created</c> / <c>sandbox.deleted</c> (to every socket of the agent): a child sandbox came or went.</summary>
public sealed record SandboxEvent(string Subdomain, string? Url = null);

/// <summary>Reads a JSON number as the nearest <see cref="int"/> (clamped), so <c>80.4</c> is 80; writes it plainly.</summary>
public sealed class RoundingInt32Converter : JsonConverter<int>
{
    public override int Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            System.Text.Json.JsonTokenType.Number when reader.TryGetInt32(out var i) => i,
            System.Text.Json.JsonTokenType.Number => (int)Math.Clamp(Math.Round(reader.GetDouble()), int.MinValue, int.MaxValue),
            _ => throw new System.Text.Json.JsonException("a number was expected"),
        };

    public override void Write(System.Text.Json.Utf8JsonWriter writer, int value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteNumberValue(value);
}
