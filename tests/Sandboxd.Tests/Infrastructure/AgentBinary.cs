using System.Text;
using CliWrap;
using CliWrap.Buffered;

[assembly: AssemblyFixture(typeof(Sandboxd.Tests.Infrastructure.AgentBinaryFixture))]

namespace Sandboxd.Tests.Infrastructure;

/// <summary>How to start the agent: the published binary from SANDBOXD_PATH, or <c>dotnet sandboxd.dll</c> built from source.</summary>
public sealed record AgentBinary(string FileName, IReadOnlyList<string> PrefixArguments, string Description)
{
    private static readonly Lazy<Task<AgentBinary>> Resolved = new(ResolveAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The binary under test; the first caller builds the agent when SANDBOXD_PATH is unset (once per run).</summary>
    public static Task<AgentBinary> GetAsync() => Resolved.Value;

    public static string RepoRoot { get; } = FindRepoRoot();

    private static async Task<AgentBinary> ResolveAsync()
    {
        if (Environment.GetEnvironmentVariable("SANDBOXD_PATH") is { Length: > 0 } published)
        {
            var full = Path.GetFullPath(published);
            if (!File.Exists(full))
            {
                throw new InvalidOperationException($"SANDBOXD_PATH={published} does not exist.");
            }

            return new AgentBinary(full, [], $"published binary {full}");
        }

        var project = Path.Combine(RepoRoot, "agent", "Sandboxd.csproj");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        var result = await CliWrap.Cli.Wrap("dotnet")
            .WithArguments(["build", project, "-c", "Debug", "-nologo", "-clp:NoSummary"])
            .WithWorkingDirectory(RepoRoot)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(Encoding.UTF8, timeout.Token);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Building the agent failed (exit {result.ExitCode}):\n{result.StandardOutput}\n{result.StandardError}");
        }

        var dll = Path.Combine(RepoRoot, "agent", "bin", "Debug", "net10.0", "sandboxd.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The agent build succeeded but {dll} is missing.");
        }

        return new AgentBinary("dotnet", [dll], $"dotnet {dll} (built from source)");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Daemon.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Daemon.sln above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}

/// <summary>Resolves (and if needed builds) the agent before the first test, outside any test's timeout.</summary>
public sealed class AgentBinaryFixture : IAsyncLifetime
{
    public AgentBinary Binary { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Binary = await AgentBinary.GetAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
