using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// Two real Docker engines of the tests' own (tests/docker/engines.sh): <c>a</c> on its own bridge with iptables,
/// <c>b</c> with <c>--bridge none --iptables=false</c> (its sandboxes use host networking), both loaded with the agent
/// image built from Dockerfile.agent and the published agent. Without root or docker.io the docker tests skip, saying
/// so — unless <c>SANDBOXD_REQUIRE_DOCKER=1</c> (CI), where that is a failure. Disposal stops both engines and their
/// containerd and shims, and removes everything they wrote.
/// </summary>
public sealed class DockerEngines : IAsyncLifetime
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(8);

    private readonly string _dir = Path.Combine("/tmp", "sbxd-dk-" + Guid.NewGuid().ToString("N")[..8]);

    public string? SkipReason { get; private set; }
    public string EndpointA { get; private set; } = "";
    public string EndpointB { get; private set; } = "";
    public string Image { get; private set; } = "";

    /// <summary>Engine b over <c>tcp://127.0.0.1:PORT</c> with <c>--tlsverify</c>.</summary>
    public string TlsEndpointB { get; private set; } = "";

    /// <summary>A directory with ca.pem, cert.pem and key.pem that engine b accepts.</summary>
    public string TlsClient { get; private set; } = "";

    /// <summary>The same, with a client certificate of another CA: engine b refuses it.</summary>
    public string TlsStranger { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var (code, stdout, stderr) = await RunScriptAsync("up");
        if (code == 77)
        {
            SkipReason = "DOCKER TESTS SKIPPED: " + stderr.Trim();
            Console.Error.WriteLine(SkipReason);
            if (Environment.GetEnvironmentVariable("SANDBOXD_REQUIRE_DOCKER") == "1")
            {
                throw new InvalidOperationException($"SANDBOXD_REQUIRE_DOCKER=1 but the engines could not start: {stderr}");
            }

            return;
        }

        if (code != 0)
        {
            throw new InvalidOperationException($"tests/docker/engines.sh up failed ({code}):\n{stderr}");
        }

        var values = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        EndpointA = values["DOCKER_A"];
        EndpointB = values["DOCKER_B"];
        Image = values["IMAGE"];
        TlsEndpointB = values["DOCKER_B_TLS"];
        TlsClient = values["TLS_CLIENT"];
        TlsStranger = values["TLS_STRANGER"];
    }

    public void SkipIfUnavailable()
    {
        if (SkipReason is not null)
        {
            Assert.Skip(SkipReason);
        }
    }

    public string Endpoint(string engine) => engine == "a" ? EndpointA : EndpointB;

    /// <summary>Stops engine <paramref name="engine"/> (dockerd, its containerd and containers) completely.</summary>
    public async Task StopEngineAsync(string engine) => Check(await RunScriptAsync("stop", engine), "stop");

    public async Task StartEngineAsync(string engine) => Check(await RunScriptAsync("start", engine), "start");

    /// <summary><c>docker …</c> against one engine; its stdout.</summary>
    public async Task<string> DockerAsync(string engine, params string[] arguments)
    {
        var (code, stdout, stderr) = await RunAsync(DockerCli, arguments, new() { ["DOCKER_HOST"] = Endpoint(engine) }, TimeSpan.FromMinutes(1));
        return code == 0 ? stdout : throw new InvalidOperationException($"docker {string.Join(' ', arguments)} on engine {engine} failed ({code}): {stderr}");
    }

    /// <summary><c>docker inspect</c> of a container, or null if the engine has none of that name.</summary>
    public async Task<JsonNode?> InspectAsync(string engine, string container)
    {
        var (code, stdout, _) = await RunAsync(DockerCli, ["inspect", "--type", "container", container], new() { ["DOCKER_HOST"] = Endpoint(engine) }, TimeSpan.FromMinutes(1));
        return code == 0 ? JsonNode.Parse(stdout)![0] : null;
    }

    /// <summary>The raw text of <c>docker inspect</c> (to search it for secrets).</summary>
    public Task<string> InspectTextAsync(string engine, string container) => DockerAsync(engine, "inspect", container);

    public async Task<IReadOnlyList<string>> ContainerNamesAsync(string engine, string label) =>
        (await DockerAsync(engine, "ps", "-a", "--filter", "label=" + label, "--format", "{{.Names}}"))
        .Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public async ValueTask DisposeAsync()
    {
        if (SkipReason is null || Directory.Exists(_dir))
        {
            var (code, _, stderr) = await RunScriptAsync("down");
            if (code != 0)
            {
                throw new InvalidOperationException($"tests/docker/engines.sh down failed ({code}): {stderr}");
            }
        }

        if (HostProcesses.WithCommandLineContaining(_dir) is { Count: > 0 } left)
        {
            throw new InvalidOperationException($"Processes of the test engines outlived them: {string.Join(", ", left)}");
        }
    }

    private static string DockerCli => File.Exists("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

    private static void Check((int Code, string Stdout, string Stderr) result, string what)
    {
        if (result.Code != 0)
        {
            throw new InvalidOperationException($"tests/docker/engines.sh {what} failed ({result.Code}): {result.Stderr}");
        }
    }

    private Task<(int Code, string Stdout, string Stderr)> RunScriptAsync(params string[] arguments) =>
        RunAsync(Path.Combine(AgentBinary.RepoRoot, "tests", "docker", "engines.sh"), [arguments[0], _dir, .. arguments[1..]],
            new() { ["SANDBOXD_PATH"] = GatewayProcess.AgentPath }, ScriptTimeout);

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> arguments, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalMinutes} min.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerEngines>
{
    public const string Name = "docker engines";
}
