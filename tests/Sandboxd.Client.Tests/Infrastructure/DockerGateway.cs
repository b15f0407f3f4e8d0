using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// A real <c>sandboxd-gateway start --provider docker</c> over the test engines, driven over raw HTTP (so the tests see
/// the wire fields: <c>engine</c>, <c>status</c>). It can be killed with SIGKILL and started again on the same state
/// dir, and may carry the test-only <c>SANDBOXD_GATEWAY_CRASH_AT</c>.
/// </summary>
public sealed class DockerGateway : IAsyncDisposable
{
    private const string ReadyPrefix = "sandboxd-gateway ready ";
    private readonly StringBuilder _stderr = new();
    private Process _process = null!;

    private DockerGateway(string stateDir, IReadOnlyList<string> arguments)
    {
        StateDir = stateDir;
        Arguments = arguments;
    }

    public string Key { get; } = "docker-test-" + Guid.NewGuid().ToString("N")[..12];
    public string StateDir { get; }
    public IReadOnlyList<string> Arguments { get; }
    public HttpClient Http { get; private set; } = null!;
    public bool HasExited => _process.HasExited;

    public string Stderr
    {
        get { lock (_stderr) { return _stderr.ToString(); } }
    }

    /// <summary>The id this gateway labels its containers with (kept in its state dir).</summary>
    public string GatewayId => File.ReadAllText(Path.Combine(StateDir, "gateway-id")).Trim();

    public static Task<DockerGateway> StartAsync(DockerEngines engines, IEnumerable<string>? extra = null, string? crashAt = null) =>
        StartWithHostsAsync(engines, [$"a={engines.EndpointA},capacity=2", $"b={engines.EndpointB},capacity=3"], extra, crashAt);

    /// <summary>A gateway on exactly these <c>--docker-host</c> values (and the test image, never pulled, unless
    /// <paramref name="extra"/> says otherwise: a later flag wins).</summary>
    public static async Task<DockerGateway> StartWithHostsAsync(DockerEngines engines, IEnumerable<string> hosts, IEnumerable<string>? extra = null, string? crashAt = null)
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-gateway-docker-").FullName;
        var arguments = new List<string>
        {
            "--provider", "docker", "--docker-image", engines.Image, "--docker-pull", "never",
            "--docker-health-interval", "500", "--docker-health-failures", "2",
        };
        foreach (var host in hosts)
        {
            arguments.AddRange(["--docker-host", host]);
        }

        arguments.AddRange(extra ?? []);
        var gateway = new DockerGateway(stateDir, arguments);
        await gateway.LaunchAsync(crashAt);
        return gateway;
    }

    /// <summary>Starts the gateway (again) on the same state dir and key; returns once it printed its ready line.</summary>
    public async Task LaunchAsync(string? crashAt = null)
    {
        var info = new ProcessStartInfo(GatewayProcess.GatewayPath)
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = StateDir,
        };
        foreach (var argument in new[] { "start", "--port", "0", "--host", "127.0.0.1", "--state-dir", StateDir, "--api-key", Key }.Concat(Arguments))
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment.Remove("SANDBOXD_GATEWAY_CRASH_AT");
        if (crashAt is not null)
        {
            info.Environment["SANDBOXD_GATEWAY_CRASH_AT"] = crashAt;
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the gateway.");
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr) { _stderr.AppendLine(e.Data); }
            }
        };
        _process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await _process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null || !line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The gateway did not print its ready line (got '{line}').\nstderr:\n{Stderr}");
        }

        Http?.Dispose();
        Http = new HttpClient { BaseAddress = new Uri(line[ReadyPrefix.Length..].Trim() + "/"), Timeout = TimeSpan.FromSeconds(120) };
        Http.DefaultRequestHeaders.Add("X-ComputeSDK-API-Key", Key);
    }

    /// <summary>POST/GET/DELETE on the gateway: (status, parsed body).</summary>
    public async Task<(int Status, JsonNode? Body)> CallAsync(HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null);
    }

    /// <summary>Creates a sandbox; fails the test unless the gateway answers 200.</summary>
    public async Task<JsonNode> CreateAsync(JsonObject? options = null)
    {
        var (status, body) = await CallAsync(HttpMethod.Post, "v1/sandboxes", options ?? new JsonObject());
        return status == 200 ? body!["data"]! : throw new InvalidOperationException($"create: {status} {body?.ToJsonString()}\n{Stderr}");
    }

    /// <summary>Runs a shell command through the sandbox's own agent (its URL and token from the gateway).</summary>
    public static async Task<JsonNode> RunAsync(JsonNode sandbox, string command)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, sandbox["url"]!.GetValue<string>() + "/run/command")
        {
            Content = JsonContent.Create(new JsonObject { ["command"] = command }),
        };
        request.Headers.Authorization = new("Bearer", sandbox["token"]!.GetValue<string>());
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!;
    }

    /// <summary>Waits (bounded) for the process to end, e.g. after a crash point fired.</summary>
    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            await Posix.SignalAsync(_process.Id, "KILL");
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>SIGTERM (bounded); the sandboxes stay (they outlive the gateway by design — the tests destroy theirs).</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            await Posix.SignalAsync(_process.Id, "TERM");
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _process.Dispose();
            Http?.Dispose();
            try
            {
                Directory.Delete(StateDir, recursive: true);
            }
            catch (IOException)
            {
                // a temp dir; a leftover is harmless
            }
        }
    }
}
