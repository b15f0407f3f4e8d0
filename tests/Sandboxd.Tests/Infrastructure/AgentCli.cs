using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>Runs the agent binary for one-shot command-line checks (no server), bounded in time.</summary>
public static class AgentCli
{
    public static async Task<BufferedCommandResult> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var binary = await AgentBinary.GetAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        return await CliWrap.Cli.Wrap(binary.FileName)
            .WithArguments([.. binary.PrefixArguments, .. arguments])
            .WithEnvironmentVariables(e => e.Set("COMPUTESDK_ACCESS_TOKEN", null))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(Encoding.UTF8, timeout.Token);
    }
}
