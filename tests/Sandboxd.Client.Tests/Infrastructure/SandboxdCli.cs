using System.Diagnostics;
using System.Text;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>Runs the client verbs of the real <c>sandboxd</c> binary (exec, cp) as a separate process.</summary>
public static class SandboxdCli
{
    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr)
    {
        public string StdoutText => Encoding.UTF8.GetString(Stdout);
    }

    public static async Task<Result> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null, byte[]? stdin = null, string? workingDirectory = null)
    {
        var binary = await AgentBinary.GetAsync();
        var info = binary.StartInfo(arguments);
        info.WorkingDirectory = workingDirectory ?? Path.GetTempPath();
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start sandboxd.");
        var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout, cancellationToken);
        var readErr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (stdin is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(stdin, cancellationToken);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await copyOut;
        return new Result(process.ExitCode, stdout.ToArray(), await readErr);
    }
}
