using Sandboxd.Core;
using Sandboxd.Protocol;
using Sandboxd.Terminals;

namespace Sandboxd.Run;

/// <summary>Writes code to a private temp file and runs it with the language's interpreter, cwd = sandbox root.</summary>
internal sealed class CodeRunner(Commands commands)
{
    public async Task<RunCodeData> RunAsync(
        SandboxContext context, CodeLanguage language, string interpreter, string code, long? timeoutMs, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), $"sandboxd-code-{Guid.NewGuid():N}{language.Extension}");
        await File.WriteAllTextAsync(file, code, cancellationToken);
        Native.WorkloadUser.Current.Claim(file); // the interpreter runs as the run-as user
        try
        {
            // Runs as a command of the implicit terminal: same spawn, cap, timeout and stop path as /run/command.
            var spec = new ExecSpec(
                $"exec {Quote(interpreter)} {Quote(file)}", ExecSpecFactory.DefaultShell, context.Root, null,
                timeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
            var record = await commands.RunAsync(context, null, spec, CommandMode.Foreground, cancellationToken);

            var output = record.Stdout.ReadAllText(out _) + record.Stderr.ReadAllText(out _);
            return new RunCodeData(output, record.Exit?.ExitCode ?? -1, language.Name);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
