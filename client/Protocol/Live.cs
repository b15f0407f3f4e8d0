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
public sealed record TerminalResizeData(string TerminalId, int Cols, int Rows);

/// <summary>The <c>data</c> of <c>command:start</c>: starts a command created with <c>stream:true</c>.</summary>
public sealed record CommandStartData(string CmdId);

/// <summary>A client → agent message as a JSON text frame: <c>{"type", "channel"?, "data"}</c>.</summary>
/// <typeparam name="T">The data record.</typeparam>
public sealed record ClientMessage<T>(string Type, T Data, string? Channel = null);

/// <summary><c>terminal:output</c> on <c>terminal:&lt;id&gt;</c>. <see cref="NextOffset"/> is the byte offset in the
/// terminal's output after this chunk (sandboxd extension); <see cref="Encoding"/> is <c>base64</c> for base64 terminals.</summary>
public sealed record TerminalOutputEvent(string Output, long? NextOffset = null, string? Encoding = null);

/// <summary><c>terminal:created</c> (sent to every socket until someone subscribes).</summary>
public sealed record TerminalCreatedEvent(string Id, string? Status = null);

/// <summary><c>terminal:destroyed</c>: the PTY shell ended (always the last message of its channel).</summary>
public sealed record TerminalDestroyedEvent(string Id, int? ExitCode = null);

/// <summary><c>terminal:error</c>.</summary>
public sealed record TerminalErrorEvent(string Error);

/// <summary><c>command:stdout</c> / <c>command:stderr</c> on <c>command:&lt;cmd_id&gt;</c>. <see cref="NextOffset"/> is the
/// byte offset in that stream after this chunk (sandboxd extension; stdout and stderr count separately).</summary>
public sealed record CommandOutputEvent(string Output, string? TerminalId = null, string? CmdId = null, long? NextOffset = null);

/// <summary><c>command:exit</c>: always the last message of a command's channel.</summary>
public sealed record CommandExitEvent(int ExitCode, string? TerminalId = null, string? CmdId = null);

/// <summary><c>output:lost</c> (sandboxd extension): the bytes between the requested offset and
/// <see cref="FirstAvailable"/> of <see cref="Stream"/> (<c>stdout</c>, <c>stderr</c> or <c>output</c>) were evicted
/// from the agent's replay window before this subscriber could read them.</summary>
public sealed record OutputLostEvent(string Stream, long LostBytes, long FirstAvailable);

/// <summary><c>file:changed</c> on <c>watcher:&lt;id&gt;</c>. <see cref="Event"/> is <c>add</c>, <c>change</c>,
/// <c>unlink</c>, <c>addDir</c> or <c>unlinkDir</c>; <see cref="Seq"/> numbers the watcher's events (sandboxd extension).</summary>
public sealed record FileChangedEvent(string Event, string Path, string? Content = null, string? Encoding = null, long? Seq = null);

/// <summary><c>watcher:created</c>, <c>watcher:destroyed</c> and <c>watcher:warning</c> on <c>watcher:&lt;id&gt;</c>.</summary>
public sealed record WatcherLifecycleEvent(string Id, string? Path = null, string? Message = null);

/// <summary><c>signal</c> on <c>signals</c>: <see cref="Signal"/> is <c>port</c>, <c>error</c> or <c>server-ready</c>;
/// <see cref="Type"/> is <c>open</c>/<c>close</c> for port signals.</summary>
public sealed record SignalEvent(string Signal, int? Port = null, string? Url = null, string? Type = null, string? Message = null);
