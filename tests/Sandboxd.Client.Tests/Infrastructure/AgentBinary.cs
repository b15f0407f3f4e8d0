using System.Diagnostics;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>How to run <c>sandboxd</c>: the published binary from SANDBOXD_PATH, or <c>dotnet sandboxd.dll</c> built once from agent/.</summary>
public sealed record AgentBinary(string FileName, IReadOnlyList<string> PrefixArguments, string Description)
{
    private static readonly Lazy<Task<AgentBinary>> Resolved = new(ResolveAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    public static Task<AgentBinary> GetAsync() => Resolved.Value;

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>A start info for <c>sandboxd ARGS</c>.</summary>
    public ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in PrefixArguments.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        // Nothing from the runner's environment may pick the agent or its credentials.
        info.Environment.Remove("SANDBOXD_URL");
        info.Environment.Remove("SANDBOXD_TOKEN");
        info.Environment.Remove("COMPUTESDK_ACCESS_TOKEN");
        info.Environment.Remove("COMPUTESDK_API_KEY");
        return info;
    }

    /// <summary>The command line for a shell (tmux) that runs <c>sandboxd ARGS</c>.</summary>
    public string ShellCommand(IEnumerable<string> arguments) =>
        string.Join(' ', new[] { FileName }.Concat(PrefixArguments).Concat(arguments).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));

    private static async Task<AgentBinary> ResolveAsync()
    {
        if (Environment.GetEnvironmentVariable("SANDBOXD_PATH") is { Length: > 0 } published)
        {
            var full = Path.GetFullPath(published);
            return File.Exists(full)
                ? new AgentBinary(full, [], $"published binary {full}")
                : throw new InvalidOperationException($"SANDBOXD_PATH={published} does not exist.");
        }

        var build = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot };
        foreach (var argument in new[] { "build", Path.Combine(RepoRoot, "agent", "Sandboxd.csproj"), "-c", "Debug", "-nologo", "-clp:NoSummary" })
        {
            build.ArgumentList.Add(argument);
        }

        using var process = Process.Start(build) ?? throw new InvalidOperationException("Could not start dotnet build.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"Building the agent failed (exit {process.ExitCode}):\n{await stdout}\n{await stderr}");
        }

        var dll = Path.Combine(RepoRoot, "agent", "bin", "Debug", "net10.0", "sandboxd.dll");
        return File.Exists(dll)
            ? new AgentBinary("dotnet", [dll], $"dotnet {dll} (built from source)")
            : throw new InvalidOperationException($"The agent build succeeded but {dll} is missing.");
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
