namespace Sandboxd.Client;

/// <summary>
/// Part of a stream was evicted from the agent's replay window before this client read it (it was disconnected, or
/// read too slowly, for longer than the window lasts). Thrown once by a <see cref="PtyTerminal"/> stream read or a
/// <see cref="FileWatcher"/> event read; reading again continues after the gap. Command streams report the same as an
/// <see cref="OutputLostCommandEvent"/> item instead.
/// </summary>
public sealed class OutputLostException : Exception
{
    /// <summary>Creates the exception for a gap in <paramref name="stream"/>.</summary>
    public OutputLostException(string stream, long lostBytes, long firstAvailable)
        : base($"{lostBytes} {(stream == "events" ? "event(s)" : "byte(s)")} of {stream} were lost before this client could read them; "
            + $"reading continues at {firstAvailable}. Keep the connection up and read promptly to avoid gaps.")
    {
        Stream = stream;
        LostBytes = lostBytes;
        FirstAvailable = firstAvailable;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public OutputLostException(string message)
        : base(message)
    {
        Stream = "";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public OutputLostException(string message, Exception innerException)
        : base(message, innerException)
    {
        Stream = "";
    }

    /// <summary>Creates the exception with no details.</summary>
    public OutputLostException()
    {
        Stream = "";
    }

    /// <summary><c>output</c> (a terminal), <c>stdout</c>/<c>stderr</c> (a command) or <c>events</c> (a watcher).</summary>
    public string Stream { get; }

    /// <summary>How many bytes (events, for a watcher) are missing.</summary>
    public long LostBytes { get; }

    /// <summary>The offset (sequence number, for a watcher) reading resumes at.</summary>
    public long FirstAvailable { get; }
}
