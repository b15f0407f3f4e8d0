namespace Sandboxd.Client;

/// <summary>One item of a streamed command (<see cref="RunClient.StreamAsync(string, CancellationToken)"/>), consumed with
/// pattern matching. The last item is always <see cref="ExitedCommandEvent"/>.</summary>
public abstract record CommandEvent;

/// <summary>The command was registered (ids for the terminal routes); it starts right after this item.</summary>
public sealed record StartedCommandEvent(string CmdId, string? TerminalId) : CommandEvent;

/// <summary>A chunk of standard output (UTF-8 text, cut on character boundaries, not on lines).</summary>
public sealed record StandardOutputCommandEvent(string Text) : CommandEvent;

/// <summary>A chunk of standard error.</summary>
public sealed record StandardErrorCommandEvent(string Text) : CommandEvent;

/// <summary><paramref name="LostBytes"/> bytes of <paramref name="Stream"/> (<c>stdout</c> or <c>stderr</c>) were evicted
/// from the agent's replay window before this client read them; the stream continues at <paramref name="FirstAvailable"/>.</summary>
public sealed record OutputLostCommandEvent(string Stream, long LostBytes, long FirstAvailable) : CommandEvent;

/// <summary>The command ended (after all of its output).</summary>
public sealed record ExitedCommandEvent(int ExitCode) : CommandEvent;
