using System.Globalization;
using System.Reflection;

namespace Sandboxd.Gateway.Hosting;

/// <summary>What <c>sandboxd-gateway</c> was asked to do.</summary>
internal enum Verb { Start, Help, Version, Invalid }

/// <summary>Parses <c>sandboxd-gateway start …</c>.</summary>
internal static class CommandLine
{
    public static string Version { get; } =
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public const string Usage = """
        sandboxd-gateway — the Sandbox Gateway, self-hosted: creates, finds and destroys sandboxes (one sandboxd
        agent each) for the ComputeSDK client's compute.sandbox.* calls (gatewayUrl / COMPUTESDK_TRIBUTARY_URL).

        Usage:
          sandboxd-gateway start [options]   run the gateway
          sandboxd-gateway --version         print the version
          sandboxd-gateway --help            print this help

        Options for start:
          --api-key K          accept K in X-ComputeSDK-API-Key (repeatable; each key sees only its own sandboxes)
          --api-keys-file F    more keys, one per line (blank lines and lines starting with # are ignored)
          --state-dir DIR      required: sandbox roots, snapshots and (by default) the SQLite database
          --store STORE        where records live: sqlite:PATH (default sqlite:DIR/gateway.db), or PostgreSQL
                               shared by several gateways: postgres://user:password@host:5432/db[?sslmode=require]
                               or Host=…;Database=…;Username=… (the password may come from PGPASSWORD)
          --port P             TCP port (default 18090; 0 picks a free one)
          --host H             address to bind (default 127.0.0.1)
          --agent PATH         the sandboxd binary to run per sandbox (default: beside this executable, then PATH)
          --public-url URL     one-origin mode: serve each sandbox's daemon under URL/sandboxes/<id>/ (HTTP and
                               WebSocket) and hand out those URLs, so a deployment needs one open port
          --no-isolation       run agents without bubblewrap even where it is installed
          --log-level LEVEL    Trace, Debug, Information (default), Warning, Error
          --provider P         local (default: agent processes on this host) or docker (containers on Docker engines)
          --docker-host NAME=ENDPOINT[,capacity=N][,tls=DIR][,address=HOST][,network=bridge|host]
                               an engine for --provider docker (repeatable): unix:///path.sock or tcp://host:port
                               with tls=DIR (ca.pem, cert.pem, key.pem); capacity defaults to 10
          --docker-image IMG   the agent image (default sandboxd:latest, built from Dockerfile.agent)
          --docker-pull P      never, missing (default) or always
          --docker-memory MiB, --docker-cpus N, --docker-pids N
                               default limits of each sandbox container (create options memoryMb, cpus, pids
                               override them; pids defaults to 1024)
          --docker-run-as USER the user the agent in each container runs commands as (default sandbox, the image's
                               unprivileged user; '' for none: then the workload can read the agent's token)
          --docker-health-interval MS, --docker-health-failures N
                               engine health checks (default every 2000 ms; down after 3 failures in a row)
          --orphan-grace S     remove containers this gateway labelled without a live record after S s (default 60)
          --gateway-id ID      the label marking this gateway's containers (default: generated, kept in the state dir)

        At least one key (--api-key or --api-keys-file) is required. Keys are kept only as SHA-256 hashes; prefer
        --api-keys-file, since command lines are visible to other local processes.
        Once it serves, the gateway prints one line on stdout:
          sandboxd-gateway ready <url>
        """;

    public static (Verb Verb, GatewayOptions Options, string? Error) Parse(string[] args)
    {
        var options = new GatewayOptions();
        if (args.Length == 0)
        {
            return (Verb.Help, options, null);
        }

        switch (args[0])
        {
            case "--help" or "-h" or "help":
                return (Verb.Help, options, null);
            case "--version" or "-v" or "version":
                return (Verb.Version, options, null);
            case "start":
                break;
            default:
                return (Verb.Invalid, options, $"unknown command '{args[0]}' (try: sandboxd-gateway --help)");
        }

        var error = ParseOptions(args, options);
        if (error is not null)
        {
            return error == "help" ? (Verb.Help, options, null) : (Verb.Invalid, options, error);
        }

        error = Validate(options);
        return error is null ? (Verb.Start, options, null) : (Verb.Invalid, options, error);
    }

    private static string? ParseOptions(string[] args, GatewayOptions options)
    {
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string Value() => inline ?? (i + 1 < args.Length ? args[++i] : throw new FormatException("needs a value"));

            try
            {
                switch (arg)
                {
                    case "--help" or "-h": return "help";
                    case "--api-key": options.ApiKeys.Add(Value()); break;
                    case "--api-keys-file": options.ApiKeysFile = Path.GetFullPath(Value()); break;
                    case "--state-dir": options.StateDir = Path.GetFullPath(Value()); break;
                    case "--store": options.Store = Value(); break;
                    case "--port" or "-p": options.Port = ParsePort(Value()); break;
                    case "--host": options.Host = Value(); break;
                    case "--agent": options.AgentPath = Path.GetFullPath(Value()); break;
                    case "--public-url": options.PublicUrl = Value().TrimEnd('/'); break;
                    case "--no-isolation": options.NoIsolation = true; break;
                    case "--log-level": options.LogLevel = Value(); break;
                    case "--provider": options.Provider = OneOf(Value(), "local", "docker"); break;
                    case "--gateway-id": options.GatewayId = Value(); break;
                    case "--docker-host": options.Docker.Hosts.Add(Docker.DockerHostSpec.Parse(Value())); break;
                    case "--docker-image": options.Docker.Image = Value(); break;
                    case "--docker-pull": options.Docker.Pull = OneOf(Value(), "never", "missing", "always"); break;
                    case "--docker-memory": options.Docker.MemoryMb = Positive(Value()); break;
                    case "--docker-cpus": options.Docker.Cpus = double.Parse(Value(), CultureInfo.InvariantCulture) is > 0 and var cpus ? cpus : throw new FormatException("must be positive"); break;
                    case "--docker-pids": options.Docker.Pids = Positive(Value()); break;
                    case "--docker-run-as": options.Docker.RunAs = Value(); break;
                    case "--docker-health-interval": options.Docker.HealthInterval = TimeSpan.FromMilliseconds(Positive(Value())); break;
                    case "--docker-health-failures": options.Docker.HealthFailures = (int)Positive(Value()); break;
                    case "--orphan-grace": options.Docker.OrphanGrace = TimeSpan.FromSeconds(long.Parse(Value(), CultureInfo.InvariantCulture) is >= 0 and var g ? g : throw new FormatException("must be 0 or more seconds")); break;
                    default: return $"unknown option '{arg}' (try: sandboxd-gateway --help)";
                }
            }
            catch (FormatException e)
            {
                return $"{arg}: {e.Message}";
            }
            catch (OverflowException)
            {
                return $"{arg}: value out of range";
            }
        }

        return null;
    }

    private static string? Validate(GatewayOptions options)
    {
        if (options.StateDir.Length == 0)
        {
            return "--state-dir DIR is required";
        }

        if (options.Store is { } store && Store.StoreLocation.Check(store) is { } storeError)
        {
            return $"--store: {storeError}";
        }

        if (options.ApiKeysFile is { } file)
        {
            if (!File.Exists(file))
            {
                return $"--api-keys-file {file}: no such file";
            }

            options.ApiKeys.AddRange(File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')));
        }

        if (options.ApiKeys.Count == 0 || options.ApiKeys.Any(k => k.Length == 0))
        {
            return "at least one non-empty API key is required (--api-key K or --api-keys-file F)";
        }

        if (options.Provider == "docker")
        {
            if (options.Docker.Hosts.Count == 0)
            {
                return "--provider docker needs at least one --docker-host NAME=ENDPOINT[,capacity=N]";
            }

            var duplicate = options.Docker.Hosts.GroupBy(h => h.Name).FirstOrDefault(g => g.Count() > 1);
            return duplicate is null ? null : $"--docker-host: the name '{duplicate.Key}' is given twice";
        }

        options.AgentPath ??= FindAgent();
        return options.AgentPath is null || !File.Exists(options.AgentPath)
            ? $"the sandboxd agent binary was not found (looked beside {AppContext.BaseDirectory} and on PATH); pass --agent PATH"
            : null;
    }

    /// <summary>The <c>sandboxd</c> beside this executable, then the first on <c>PATH</c>.</summary>
    private static string? FindAgent()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "sandboxd");
        if (File.Exists(beside))
        {
            return beside;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "sandboxd"))
            .FirstOrDefault(File.Exists);
    }

    private static string OneOf(string value, params string[] allowed) =>
        allowed.Contains(value) ? value : throw new FormatException($"must be one of: {string.Join(", ", allowed)}");

    private static long Positive(string value) =>
        long.Parse(value, CultureInfo.InvariantCulture) is > 0 and var n ? n : throw new FormatException("must be a positive number");

    private static int ParsePort(string value)
    {
        var port = int.Parse(value, CultureInfo.InvariantCulture);
        return port is >= 0 and <= 65535 ? port : throw new FormatException("port must be 0-65535");
    }
}
