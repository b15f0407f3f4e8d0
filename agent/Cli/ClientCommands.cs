namespace Sandboxd.Cli;

/// <summary>The client verbs of the sandboxd binary (exec, shell, cp), built on the Sandboxd.Client library.</summary>
internal static class ClientCommands
{
    public const string DefaultUrl = "http://127.0.0.1:18080";

    public static Task<int> RunAsync(string[] args)
    {
        var verb = args[0];
        var (options, rest, error) = ClientOptions.Parse(args.AsSpan(1));
        if (options.Help)
        {
            Console.WriteLine(Usage(verb));
            return Task.FromResult(0);
        }

        if (error is not null)
        {
            Console.Error.WriteLine($"sandboxd {verb}: {error}\n{Usage(verb)}");
            return Task.FromResult(2);
        }

        return verb switch
        {
            "exec" => ExecCommand.RunAsync(options, rest),
            "shell" => ShellCommand.RunAsync(options, rest),
            "cp" => CopyCommand.RunAsync(options, rest),
            _ => Task.FromResult(2),
        };
    }

    private static string Usage(string verb) => verb switch
    {
        "exec" => """
            Usage: sandboxd exec [--url U] [--token T] [--cwd DIR] [--env K=V]... [--] CMD [ARGS...]
              Runs CMD with ARGS (each quoted for /bin/sh) in the sandbox, streams its stdout and stderr,
              and exits with its exit code. The command's stdin is empty.
            """,
        "shell" => """
            Usage: sandboxd shell [--url U] [--token T] [--cwd DIR] [--shell PATH]
              An interactive terminal in the sandbox. Ctrl-C and every other key go to the remote shell;
              the window size follows yours. Ends when the remote shell exits (with its exit code).
            """,
        _ => """
            Usage: sandboxd cp [--url U] [--token T] [-r] SRC DST
              Copies a file byte for byte (any size), or a directory with -r; a sandbox path starts with ':' (sandboxd cp ./a.txt :/tmp/a.txt, sandboxd cp :app.log .).
              '-' is stdin (as SRC) or stdout (as DST). Files travel as raw bytes (PUT /files, raw GET) and
              directories as tar (/files/archive): sandboxd extensions, so the agent must be sandboxd.
            """,
    } + "\n  URL and token default to $SANDBOXD_URL (else " + DefaultUrl + ") and $SANDBOXD_TOKEN.";
}
