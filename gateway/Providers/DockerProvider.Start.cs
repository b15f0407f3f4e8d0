using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Sandboxd.Gateway.Docker;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Native;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

internal sealed partial class DockerProvider
{
    /// <summary>The agent binary in the image (Dockerfile.agent) and the port it serves inside a bridged container.</summary>
    private const string AgentPath = "/usr/local/bin/sandboxd";
    private const int AgentPort = 18080;

    /// <summary>The directory the token and setup are copied into before start (0700, the container user's).</summary>
    private const string SecretDir = ".sandboxd-gateway";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Create (labelled, limited) → copy the token and setup in as a tar owned by the container's user → start → find
    /// the agent's URL (published port, or its ready line under host networking) → wait for <c>/health</c>.
    /// </summary>
    public async Task<AgentStarted> StartAsync(SandboxRecord record, SandboxSpec spec, CancellationToken cancellationToken)
    {
        var engine = engines.Up(record.Engine);
        var image = spec.Snapshot is { } location ? ParseSnapshot(location).Image : engines.Options.Image;
        await EnsureImageAsync(engine, image, spec.Snapshot is null ? engines.Options.Pull : "never", cancellationToken);

        var name = ContainerName(record.Id);
        var token = Convert.ToHexStringLower(LibC.RandomBytes(32));
        await engine.Client.CreateContainerAsync(name, CreateRequest(engine, record, spec, image), cancellationToken);
        CrashPoint.Hit("after-container-create", logger);

        var (uid, gid) = await ContainerUserAsync(engine, name, cancellationToken);
        using (var tar = SecretsTar(token, spec.SetupJson, uid, gid))
        {
            await engine.Client.PutArchiveAsync(name, "/", tar, cancellationToken);
        }

        await engine.Client.StartContainerAsync(name, cancellationToken);
        var url = await WaitForUrlAsync(engine, name, cancellationToken);
        await WaitHealthyAsync(engine, name, url, cancellationToken);
        logger.ContainerStarted(record.Id, name, engine.Name, url);
        CrashPoint.Hit("after-container-start", logger);
        return new AgentStarted(url, token, 0, 0, record.Root);
    }

    private ContainerCreateRequest CreateRequest(DockerEngine engine, SandboxRecord record, SandboxSpec spec, string image)
    {
        var local = engine.Spec.SocketPath is not null;
        var host = engine.Network == EngineNetwork.Host;
        var cmd = new List<string>
        {
            "start",
            // Under host networking the agent binds the engine host's own interfaces: loopback when the engine is local.
            "--host", host && local ? "127.0.0.1" : "0.0.0.0",
            "--port", host ? "0" : AgentPort.ToString(CultureInfo.InvariantCulture),
            "--root", record.Root,
            "--access-token-file", $"/{SecretDir}/token",
        };
        if (engines.Options.RunAs is { Length: > 0 } runAs)
        {
            cmd.AddRange(["--run-as", runAs]);
        }

        if (spec.SetupJson is not null)
        {
            cmd.AddRange(["--setup", $"/{SecretDir}/setup.json"]);
        }

        if (options.PublicUrl is { } origin)
        {
            cmd.AddRange(["--public-url", $"{origin}/sandboxes/{record.Id}", "--preview-url-template", "{public_url}/preview/{port}"]);
        }

        var env = new List<string> { $"COMPUTESDK_SANDBOX_ID={record.Id}" };
        env.AddRange((spec.Envs ?? new Dictionary<string, string>()).Select(e => $"{e.Key}={e.Value}"));

        var limits = spec.Limits ?? new SandboxLimits();
        var memory = (limits.MemoryMb ?? engines.Options.MemoryMb) * 1024 * 1024;
        var cpus = limits.Cpus ?? engines.Options.Cpus;
        var hostConfig = new HostConfig(
            Memory: memory,
            MemorySwap: memory, // no swap beyond the memory limit
            NanoCpus: cpus is { } c ? (long)(c * 1e9) : null,
            PidsLimit: limits.Pids ?? engines.Options.Pids,
            NetworkMode: host ? "host" : null,
            PortBindings: host ? null : new() { [$"{AgentPort}/tcp"] = [new PortBinding(local ? "127.0.0.1" : "0.0.0.0", "")] },
            // The engine brings the sandbox back after its own restart (or an agent crash); only destroy stops it.
            RestartPolicy: new RestartPolicy("unless-stopped"));
        var labels = new Dictionary<string, string> { [GatewayLabel] = engines.GatewayId, [SandboxLabel] = record.Id };
        return new ContainerCreateRequest(image, [AgentPath], cmd, env, labels, hostConfig,
            host ? null : new() { [$"{AgentPort}/tcp"] = new EmptyObject() });
    }

    private async Task EnsureImageAsync(DockerEngine engine, string image, string policy, CancellationToken cancellationToken)
    {
        if (policy == "always" || (policy == "missing" && !await engine.Client.ImageExistsAsync(image, cancellationToken)))
        {
            logger.Pulling(image, engine.Name, policy);
            await engine.Client.PullAsync(image, cancellationToken);
        }
        else if (policy == "never" && !await engine.Client.ImageExistsAsync(image, cancellationToken))
        {
            throw new GatewayException(GatewayErrorCode.AgentFailed, $"The image {image} is not on Docker engine '{engine.Name}' and the pull policy is 'never'; load it there (docker load / docker build) or use --docker-pull missing.");
        }
    }

    /// <summary>The numeric uid/gid of the container's configured user: numeric as given, or looked up in its own /etc/passwd.</summary>
    private static async Task<(int Uid, int Gid)> ContainerUserAsync(DockerEngine engine, string container, CancellationToken cancellationToken)
    {
        var user = (await engine.Client.InspectAsync(container, cancellationToken))?.Config?.User ?? "";
        var name = user.Split(':')[0];
        if (name.Length == 0 || name == "root")
        {
            return (0, 0);
        }

        if (int.TryParse(name, CultureInfo.InvariantCulture, out var numeric))
        {
            return (numeric, user.Contains(':', StringComparison.Ordinal) && int.TryParse(user.Split(':')[1], CultureInfo.InvariantCulture, out var g) ? g : numeric);
        }

        var passwd = await engine.Client.ReadFileAsync(container, "/etc/passwd", cancellationToken) ?? "";
        foreach (var line in passwd.Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name
                && int.TryParse(fields[2], CultureInfo.InvariantCulture, out var uid) && int.TryParse(fields[3], CultureInfo.InvariantCulture, out var gid))
            {
                return (uid, gid);
            }
        }

        throw new GatewayException(GatewayErrorCode.AgentFailed, $"The image's user '{user}' is not in its /etc/passwd; give the image a numeric USER.");
    }

    /// <summary><c>.sandboxd-gateway/</c> (0700) with <c>token</c> and <c>setup.json</c> (0600), owned by the container's user.</summary>
    private static MemoryStream SecretsTar(string token, string? setupJson, int uid, int gid)
    {
        var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, SecretDir + "/")
            {
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, Uid = uid, Gid = gid,
            });
            AddFile(writer, "token", token + "\n", uid, gid);
            if (setupJson is not null)
            {
                AddFile(writer, "setup.json", setupJson, uid, gid);
            }
        }

        stream.Position = 0;
        return stream;
    }

    private static void AddFile(TarWriter writer, string name, string content, int uid, int gid) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"{SecretDir}/{name}")
        {
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite, Uid = uid, Gid = gid,
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
        });

    /// <summary>Bridge: the host port the engine published for the agent's port. Host networking: the agent's ready line.</summary>
    /// <summary>Where the agent of a running container answers now, or null if it does not say yet.</summary>
    private async Task<string?> CurrentUrlAsync(DockerEngine engine, string container, ContainerInspect inspect, CancellationToken cancellationToken)
    {
        if (engine.Network == EngineNetwork.Bridge)
        {
            var binding = inspect.NetworkSettings?.Ports?.GetValueOrDefault($"{AgentPort}/tcp")?.FirstOrDefault(b => !string.IsNullOrEmpty(b.HostPort));
            return binding is null ? null : $"http://{UrlHost(engine.Spec.Address)}:{binding.HostPort}";
        }

        return ReadyPort(await engine.Client.LogsAsync(container, stderr: false, cancellationToken)) is { } port
            ? $"http://{UrlHost(engine.Spec.Address)}:{port}"
            : null;
    }

    private async Task<string> WaitForUrlAsync(DockerEngine engine, string container, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + ReadyTimeout;
        while (true)
        {
            var inspect = await engine.Client.InspectAsync(container, cancellationToken)
                ?? throw new GatewayException(GatewayErrorCode.AgentFailed, $"The container {container} vanished while it started.");
            if (inspect.State is not { Running: true })
            {
                throw await ExitedAsync(engine, container, inspect, cancellationToken);
            }

            if (await CurrentUrlAsync(engine, container, inspect, cancellationToken) is { } url)
            {
                return url;
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new GatewayException(GatewayErrorCode.AgentFailed, $"The agent in {container} did not become reachable within {ReadyTimeout.TotalSeconds:0} s.");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    private async Task WaitHealthyAsync(DockerEngine engine, string container, string url, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + ReadyTimeout;
        var checks = 0;
        while (!await HealthyAsync(url, cancellationToken))
        {
            if (++checks % 10 == 0 && await engine.Client.InspectAsync(container, cancellationToken) is { State.Running: false } stopped)
            {
                throw await ExitedAsync(engine, container, stopped, cancellationToken);
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new GatewayException(GatewayErrorCode.AgentFailed, $"The agent in {container} did not answer {url}/health within {ReadyTimeout.TotalSeconds:0} s.");
            }

            await Task.Delay(PollInterval, time, cancellationToken);
        }
    }

    private static async Task<GatewayException> ExitedAsync(DockerEngine engine, string container, ContainerInspect inspect, CancellationToken cancellationToken)
    {
        var log = await engine.Client.LogsAsync(container, stderr: true, cancellationToken);
        var tail = string.Join('\n', log.Split('\n').TakeLast(20));
        return new GatewayException(GatewayErrorCode.AgentFailed,
            $"The agent container {container} exited (status {inspect.State?.Status}, code {inspect.State?.ExitCode}{(inspect.State?.OOMKilled == true ? ", OOM-killed" : "")}). Its log:\n{tail}");
    }

    /// <summary>The port of the LAST ready line (an agent the engine restarted printed one per start).</summary>
    private static string? ReadyPort(string stdout)
    {
        foreach (var line in stdout.Split('\n').Reverse())
        {
            if (line.StartsWith("sandboxd ready ", StringComparison.Ordinal) && Uri.TryCreate(line["sandboxd ready ".Length..].Trim(), UriKind.Absolute, out var uri))
            {
                return uri.Port.ToString(CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static string UrlHost(string address) => address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address;
}
