using System.Globalization;
using Sandboxd.Core;

namespace Sandboxd.Hosting;

/// <summary>What <c>sandboxd</c> was asked to do.</summary>
internal enum Verb { Start, Help, Version, Invalid, Client, Health }

/// <summary>Parses <c>sandboxd start …</c>, compatible with ComputeSDK's <c>compute start</c>.</summary>
internal static class CommandLine
{
    public const string Usage = """
        sandboxd — turns this machine into a programmable sandbox over HTTP and WebSocket
        (speaks the ComputeSDK daemon protocol).

        Usage:
          sandboxd start [options]     run the agent
          sandboxd exec [--url U] [--token T] -- CMD ARGS   run a command in a sandbox (exit code passes through)
          sandboxd shell [--url U] [--token T]              an interactive terminal in a sandbox
          sandboxd cp [--url U] [--token T] [-r] SRC DST    copy files (binary-safe) or directories (-r); prefix sandbox paths with ':'
                                       (URL and token also from SANDBOXD_URL / SANDBOXD_TOKEN)
          sandboxd health [--url U]    exit 0 if the agent at U (default http://127.0.0.1:18080) is healthy
          sandboxd --version           print the version
          sandboxd --help              print this help

        Options for start:
          --access-token T         access token (also env COMPUTESDK_ACCESS_TOKEN)
          --access-token-file F    read the access token from F (first line)
          --api-key K              also accept K as an access token (ComputeSDK gateway compatibility)
          --port P                 TCP port (default 18080; 0 picks a free one)
          --host H                 address to bind (default 127.0.0.1)
          --root DIR               sandbox root (default: the working directory)
          --run-as USER            as root, run commands, terminals and servers as USER (a name or uid; env
                                   SANDBOXD_RUN_AS); files the API writes belong to USER, the token and state stay root's
          --state-dir DIR          persistent state (default /var/lib/sandboxd as root, else ~/.local/state/sandboxd);
                                   one agent per state directory (a second one exits with an error)
          --sandboxes-dir DIR      roots of child sandboxes created without a directory (default <state-dir>-sandboxes)
          --public-url URL         public base URL used in URLs the agent hands out
          --preview-url-template T preview URL for ports (default http://localhost:{port})
          --output-cap BYTES       per-stream capture cap of a command (default 10485760)
          --max-body BYTES         largest accepted JSON request body (default 67108864; streamed uploads are not capped)
          --min-free-disk BYTES    streamed uploads (PUT /files, archives) keep this much disk free, else 507 (default 16777216)
          --metrics-public         serve GET /metrics without a token
          --server-memory-mb MIB   memory limit of servers that set no memory_mb (cgroup; GET /info says if it can)
          --server-pids-max N      process/thread limit of servers that set no pids_max
          --overlay-package-dirs L extra directory names an overlay links instead of copying (comma-separated;
                                   node_modules, .venv and venv always)
          --allowed-redirect-origin O  an origin (https://app.example.com) magic links may redirect to (repeatable)
          --sandbox-domain D       also address child sandboxes by Host <subdomain>.D
          --setup FILE             setup JSON ({overlays, servers}) applied at boot, like COMPUTESDK_SETUP_B64
          --max-unauthenticated-connections N  connections without a valid token yet, at most N at once (default 256)
          --unauthenticated-idle SECONDS       close such a connection when idle this long (default 10)
          --ws-binary-out          send terminal output, file events and signals as binary frames on binary sockets
          --log-level LEVEL        Trace, Debug, Information (default), Warning, Error
          --insecure-no-auth       DANGER: accept every request without a token

        With no token given, the agent generates one, stores it in <state-dir>/access-token (mode 0600)
        and prints that path on stderr. Once it serves, it prints one line on stdout:
          sandboxd ready <url>
        """;

    public static (Verb Verb, AgentOptions Options, string? Error) Parse(string[] args)
    {
        var options = new AgentOptions();
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
            case "health":
                return (Verb.Health, options, null);
            case "exec" or "shell" or "cp":
                return (Verb.Client, options, null);
            default:
                return (Verb.Invalid, options, $"unknown command '{args[0]}' (try: sandboxd --help)");
        }

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

            string Value()
            {
                if (inline is not null)
                {
                    return inline;
                }

                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"{arg} needs a value");
                }

                return args[++i];
            }

            try
            {
                switch (arg)
                {
                    case "--help" or "-h": return (Verb.Help, options, null);
                    case "--access-token" or "--token": options.AccessToken = Value(); break;
                    case "--access-token-file": options.AccessTokenFile = Value(); break;
                    case "--api-key": options.ApiKey = Value(); break;
                    case "--port" or "-p": options.Port = ParsePort(Value()); break;
                    case "--host": options.Host = Value(); break;
                    case "--root": options.Root = Path.GetFullPath(Value()); break;
                    case "--state-dir": options.StateDir = Path.GetFullPath(Value()); break;
                    case "--sandboxes-dir": options.SandboxesDir = Path.GetFullPath(Value()); break;
                    case "--public-url": options.PublicUrl = Value().TrimEnd('/'); break;
                    case "--preview-url-template": options.PreviewUrlTemplate = Value(); break;
                    case "--output-cap": options.OutputCapBytes = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--max-body": options.MaxBodyBytes = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--min-free-disk": options.MinFreeDiskBytes = long.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--metrics-public": options.MetricsPublic = true; break;
                    case "--server-memory-mb": options.ServerMemoryMb = ParsePositive(Value()); break;
                    case "--server-pids-max": options.ServerPidsMax = ParsePositive(Value()); break;
                    case "--ws-binary-out": options.WsBinaryOut = true; break;
                    case "--log-level": options.LogLevel = Value(); break;
                    case "--insecure-no-auth": options.NoAuth = true; break;
                    case "--run-as": options.RunAs = Value(); break;
                    case "--overlay-package-dirs": options.OverlayPackageDirs = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                    case "--sandbox-domain": options.SandboxDomain = Value().Trim('.'); break;
                    case "--setup": options.SetupFile = Path.GetFullPath(Value()); break;
                    case "--max-unauthenticated-connections": options.MaxUnauthenticatedConnections = ParsePositive(Value()); break;
                    case "--unauthenticated-idle": options.UnauthenticatedIdle = TimeSpan.FromSeconds(ParsePositive(Value())); break;
                    case "--allowed-redirect-origin": options.AllowedRedirectOrigins.Add(Value().TrimEnd('/')); break;
                    default: return (Verb.Invalid, options, $"unknown option '{arg}' (try: sandboxd --help)");
                }
            }
            catch (FormatException e)
            {
                return (Verb.Invalid, options, $"{arg}: {e.Message}");
            }
            catch (OverflowException)
            {
                return (Verb.Invalid, options, $"{arg}: value out of range");
            }
        }

        if (!Directory.Exists(options.Root))
        {
            return (Verb.Invalid, options, $"--root {options.Root}: no such directory");
        }

        if (options.OutputCapBytes < 1024)
        {
            return (Verb.Invalid, options, "--output-cap must be at least 1024");
        }

        return (Verb.Start, options, null);
    }

    private static int ParsePositive(string value)
    {
        var number = int.Parse(value, CultureInfo.InvariantCulture);
        return number > 0 ? number : throw new FormatException("must be a positive number");
    }

    private static int ParsePort(string value)
    {
        var port = int.Parse(value, CultureInfo.InvariantCulture);
        return port is >= 0 and <= 65535 ? port : throw new FormatException("port must be 0-65535");
    }
}
