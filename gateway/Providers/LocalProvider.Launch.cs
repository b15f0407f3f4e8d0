using System.Diagnostics;
using System.Text.Json;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

internal sealed partial class LocalProvider
{
    /// <summary>One sandbox's files: its root on the host, the agent's state dir, token file, setup file and log.</summary>
    private sealed record AgentFiles(string HostRoot, string StateDir, string TokenFile, string? SetupFile, string Log, string Token);

    private static AgentFiles Prepare(SandboxRecord record, SandboxSpec spec)
    {
        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(record.Dir, owner);
        var hostRoot = Directory.CreateDirectory(HostRoot(record)).FullName;
        var stateDir = Directory.CreateDirectory(Path.Combine(record.Dir, "state"), owner).FullName;
        var token = NewToken();
        var tokenFile = Path.Combine(record.Dir, "token");
        WritePrivate(tokenFile, token + "\n");
        string? setupFile = null;
        if (spec.SetupJson is { } setup)
        {
            setupFile = Path.Combine(record.Dir, "setup.json");
            WritePrivate(setupFile, setup);
        }

        return new AgentFiles(hostRoot, stateDir, tokenFile, setupFile, Path.Combine(record.Dir, "agent.log"), token);
    }

    /// <summary>
    /// Overlay templates (top-level and servers') that the sandbox's own <c>/tmp</c> would hide: under bubblewrap the host
    /// is visible read-only except <c>/tmp</c> and the gateway's state, so a template in the host's <c>/tmp</c> is bound
    /// in read-only at the same path (without it the agent found no template and dropped the overlay). Templates in the
    /// gateway's state dir stay hidden.
    /// </summary>
    private List<string> HiddenOverlaySources(string? setupJson)
    {
        if (setupJson is null)
        {
            return [];
        }

        using var setup = JsonDocument.Parse(setupJson);
        var sources = new List<string>();
        CollectSources(setup.RootElement, "overlays", sources);
        if (setup.RootElement.TryGetProperty("servers", out var servers) && servers.ValueKind == JsonValueKind.Array)
        {
            foreach (var server in servers.EnumerateArray())
            {
                CollectSources(server, "overlays", sources);
                if (server.ValueKind == JsonValueKind.Object && server.TryGetProperty("overlay", out var one)
                    && one.ValueKind == JsonValueKind.Object && one.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.String)
                {
                    sources.Add(source.GetString()!);
                }
            }
        }

        var state = Path.GetFullPath(options.StateDir).TrimEnd('/');
        return sources.Where(Path.IsPathFullyQualified).Select(Path.GetFullPath).Distinct(StringComparer.Ordinal)
            .Where(s => s.StartsWith("/tmp/", StringComparison.Ordinal) && Directory.Exists(s))
            .Where(s => s != state && !s.StartsWith(state + "/", StringComparison.Ordinal) && !state.StartsWith(s.TrimEnd('/') + "/", StringComparison.Ordinal))
            .ToList();
    }

    private static void CollectSources(JsonElement owner, string property, List<string> sources)
    {
        if (owner.ValueKind != JsonValueKind.Object || !owner.TryGetProperty(property, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var overlay in list.EnumerateArray())
        {
            if (overlay.ValueKind == JsonValueKind.Object && overlay.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.String)
            {
                sources.Add(source.GetString()!);
            }
        }
    }

    private static void WritePrivate(string path, string content)
    {
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(file);
        writer.Write(content);
    }

    /// <summary>
    /// <c>sh -c 'exec setsid …'</c>: the agent (or bwrap) gets its own session without managed fork, stdin from
    /// /dev/null and stdout/stderr appended to its log file — no pipe to this gateway that would break when it exits.
    /// </summary>
    private Process Launch(SandboxRecord record, SandboxSpec spec, AgentFiles files)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = files.HostRoot };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec setsid \"$@\" </dev/null >>\"$0\" 2>&1");
        psi.ArgumentList.Add(files.Log);
        if (Isolation is { } bwrap)
        {
            psi.ArgumentList.Add(bwrap);
            var visible = new List<string> { files.TokenFile, options.AgentPath! };
            if (files.SetupFile is { } setup)
            {
                visible.Add(setup);
            }

            visible.AddRange(HiddenOverlaySources(spec.SetupJson));

            foreach (var arg in Bubblewrap.Arguments(options.StateDir, files.HostRoot, record.Root, files.StateDir, visible))
            {
                psi.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in AgentArguments(record, files))
        {
            psi.ArgumentList.Add(arg);
        }

        SetEnvironment(psi, record, spec);
        return Process.Start(psi) ?? throw new GatewayException(GatewayErrorCode.AgentFailed, "The agent process could not be started.");
    }

    private IEnumerable<string> AgentArguments(SandboxRecord record, AgentFiles files)
    {
        yield return options.AgentPath!;
        yield return "start";
        yield return "--port";
        yield return "0";
        yield return "--host";
        yield return options.Host is "0.0.0.0" or "::" or "[::]" ? "127.0.0.1" : options.Host;
        yield return "--root";
        yield return record.Root;
        yield return "--state-dir";
        yield return files.StateDir;
        yield return "--access-token-file";
        yield return files.TokenFile;
        if (files.SetupFile is { } setup)
        {
            yield return "--setup";
            yield return setup;
        }

        if (options.PublicUrl is { } origin)
        {
            // One-origin mode: the URLs the agent hands out (magic links, server previews) go through the gateway too.
            yield return "--public-url";
            yield return $"{origin}/sandboxes/{record.Id}";
            yield return "--preview-url-template";
            yield return "{public_url}/preview/{port}";
        }
    }

    /// <summary>
    /// The agent's environment is the base of every command's (the agent strips its own secrets): the gateway's
    /// environment minus anything ComputeSDK/sandboxd-specific, HOME at the sandbox root, then the create call's envs.
    /// </summary>
    private static void SetEnvironment(ProcessStartInfo psi, SandboxRecord record, SandboxSpec spec)
    {
        foreach (var name in psi.Environment.Keys.ToList())
        {
            if (name.StartsWith("COMPUTESDK_", StringComparison.Ordinal) || name.StartsWith("SANDBOXD_", StringComparison.Ordinal))
            {
                psi.Environment.Remove(name);
            }
        }

        psi.Environment["HOME"] = record.Root;
        // Inherited by every process of the sandbox: tells it its id, and labels its processes on the host.
        psi.Environment["COMPUTESDK_SANDBOX_ID"] = record.Id;
        foreach (var (name, value) in spec.Envs ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }
    }

    private async Task<string> WaitForReadyAsync(Process process, string log, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + ReadyTimeout;
        while (true)
        {
            if (ReadReadyLine(log) is { } url)
            {
                return url;
            }

            if (process.HasExited || time.GetUtcNow() > deadline)
            {
                var why = process.HasExited ? $"exited with code {process.ExitCode}" : $"did not print its ready line within {ReadyTimeout.TotalSeconds:0} s";
                throw new GatewayException(GatewayErrorCode.AgentFailed, $"The sandbox agent {why}. Its log:\n{LogTail(log)}");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    private static string? ReadReadyLine(string log)
    {
        using var file = new FileStream(log, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(file);
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith("sandboxd ready ", StringComparison.Ordinal))
            {
                return line["sandboxd ready ".Length..].Trim().TrimEnd('/');
            }
        }

        return null;
    }

    /// <summary>Under bwrap the agent is PID 1 of its namespace: bwrap's only child.</summary>
    private async Task<int> FindAgentInNamespaceAsync(Process bwrap, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + ReadyTimeout;
        int pid;
        while ((pid = ProcessProbe.FindChild(bwrap.Id)) == 0)
        {
            if (bwrap.HasExited || time.GetUtcNow() > deadline)
            {
                throw new GatewayException(GatewayErrorCode.AgentFailed, "The agent's bubblewrap process has no child.");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }

        return pid;
    }

    private static string LogTail(string log)
    {
        try
        {
            var lines = File.ReadAllLines(log);
            return string.Join('\n', lines.TakeLast(20));
        }
        catch (IOException e)
        {
            return $"(log unreadable: {e.Message})";
        }
    }
}
