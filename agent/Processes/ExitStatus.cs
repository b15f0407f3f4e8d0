namespace Sandboxd.Processes;

/// <summary>How a child ended. <see cref="ExitCode"/> follows the shell convention: 128 + signal when killed.</summary>
internal readonly record struct ExitStatus(int ExitCode, int? Signal)
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
}
