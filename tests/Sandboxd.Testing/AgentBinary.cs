using System.Diagnostics;

namespace Sandboxd.Testing;

/// <summary>
/// How to run <c>sandboxd</c>: the published binary from SANDBOXD_PATH, or <c>dotnet sandboxd.dll</c> built once from
/// agent/ when it is unset. The gateway is always the published binary (SANDBOXD_GATEWAY_PATH or tests/.bin).
/// </summary>
public sealed class AgentBinary
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static AgentBinary? s_resolved;

    private AgentBinary(string fileName, IReadOnlyList<string> prefixArguments, string description)
    {
        FileName = fileName;
        PrefixArguments = prefixArguments;
        Description = description;
    }

    public string FileName { get; }
    public IReadOnlyList<string> PrefixArguments { get; }
    public string Description { get; }

    /// <summary>The repository root (the folder holding Daemon.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The published gateway: SANDBOXD_GATEWAY_PATH, default tests/.bin/sandboxd-gateway.</summary>
    public static string GatewayPath => Published("SANDBOXD_GATEWAY_PATH", "sandboxd-gateway");

    /// <summary>The published agent (what the gateway starts): SANDBOXD_PATH, default tests/.bin/sandboxd.</summary>
    public static string PublishedAgentPath => Published("SANDBOXD_PATH", "sandboxd");

    /// <summary>The binary under test; the first caller builds the agent when SANDBOXD_PATH is unset (once per run).</summary>
    public static async Task<AgentBinary> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return s_resolved ??= await ResolveAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>A start info for <c>sandboxd ARGS</c>, nothing from the runner's environment choosing its agent or credentials.</summary>
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

        RemoveCredentials(info);
        return info;
    }

    /// <summary>The command line for a shell (tmux) that runs <c>sandboxd ARGS</c>.</summary>
    public string ShellCommand(IEnumerable<string> arguments) =>
        string.Join(' ', new[] { FileName }.Concat(PrefixArguments).Concat(arguments).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));

    /// <summary>Removes every variable through which the runner's environment could pick an agent, a token or a state dir.</summary>
    public static void RemoveCredentials(ProcessStartInfo info)
    {
        foreach (var name in new[] { "SANDBOXD_URL", "SANDBOXD_TOKEN", "COMPUTESDK_ACCESS_TOKEN", "COMPUTESDK_API_KEY", "SANDBOXD_STATE_DIR" })
        {
            info.Environment.Remove(name);
        }
    }

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

    private static string Published(string variable, string name)
    {
        var path = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set
            ? Path.GetFullPath(set)
            : Path.Combine(RepoRoot, "tests", ".bin", name);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{path} does not exist: publish {name} (tests/run.sh does) or set {variable}.");
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Daemon.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Could not find the repository root (Daemon.sln) above " + AppContext.BaseDirectory);
    }
}
