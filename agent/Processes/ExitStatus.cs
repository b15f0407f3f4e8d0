using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>How a child ended. <see cref="ExitCode"/> follows the shell convention: 128 + signal when killed.
/// <see cref="OomKilled"/>: the kernel's OOM killer ended it (or, under a shell, the command it was waiting for).</summary>
internal readonly record struct ExitStatus(int ExitCode, int? Signal, bool OomKilled = false)
{
    public static ExitStatus FromWaitStatus(int status)
    {
        if (status < 0)
        {
            return new ExitStatus(-1, null); // reaped by someone else; never expected
        }

        var termSig = status & 0x7f;
        return termSig == 0 ? new ExitStatus((status >> 8) & 0xff, null) : new ExitStatus(128 + termSig, termSig);
    }

    /// <summary>Died of SIGKILL, or a shell's exit status for a command that did (137).</summary>
    public bool LooksKilled => Signal == LibC.SIGKILL || Signal is null && ExitCode == 128 + LibC.SIGKILL;

    /// <summary>
    /// Why it ended, for the exit event and the records (docs/protocol-notes.md): <c>oom</c> (the OOM killer),
    /// <c>timeout</c> (its run timeout elapsed and the agent stopped it), <c>stopped</c> (stopped on request or at
    /// shutdown), <c>signal</c> (a signal from anyone else), <c>exit</c> (it exited by itself with <see cref="ExitCode"/>).
    /// </summary>
    public string Reason(bool timedOut, bool stopped) =>
        OomKilled ? "oom" : timedOut ? "timeout" : stopped ? "stopped" : Signal is not null ? "signal" : "exit";

    /// <summary>The signal's name (<c>SIGKILL</c>), when a signal ended it.</summary>
    public string? SignalName => Signal is { } s ? SignalNames.NameOf(s) : null;
}
