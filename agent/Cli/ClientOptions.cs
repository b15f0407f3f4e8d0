namespace Sandboxd.Cli;

/// <summary>Options shared by the client verbs, and the arguments left after them.</summary>
internal sealed record ClientOptions(
    Uri Url,
    string? Token,
    string? Cwd,
    string? Shell,
    IReadOnlyDictionary<string, string> Env,
    bool Help)
{
    /// <summary>
    /// Parses <c>--url</c>, <c>--token</c>, <c>--cwd</c>, <c>--shell</c>, <c>--env K=V</c> (also as <c>--opt=value</c>)
    /// up to the first non-option or <c>--</c>; everything after is returned as is.
    /// </summary>
    public static (ClientOptions Options, string[] Arguments, string? Error) Parse(ReadOnlySpan<string> args)
    {
        string? url = Environment.GetEnvironmentVariable("SANDBOXD_URL");
        string? token = Environment.GetEnvironmentVariable("SANDBOXD_TOKEN");
        string? cwd = null;
        string? shell = null;
        var help = false;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        string? error = null;
        for (; i < args.Length && error is null; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                i++;
                break;
            }

            if (arg is "-h" or "--help")
            {
                help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                break;
            }

            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            string? value = inline;
            if (value is null && arg is "--url" or "--token" or "--cwd" or "--shell" or "--env")
            {
                if (i + 1 >= args.Length)
                {
                    error = $"{arg} needs a value";
                    break;
                }

                value = args[++i];
            }

            switch (arg)
            {
                case "--url": url = value; break;
                case "--token": token = value; break;
                case "--cwd": cwd = value; break;
                case "--shell": shell = value; break;
                case "--env":
                    var kv = value!.IndexOf('=', StringComparison.Ordinal);
                    if (kv <= 0)
                    {
                        error = $"--env needs KEY=VALUE, not '{value}'";
                    }
                    else
                    {
                        env[value[..kv]] = value[(kv + 1)..];
                    }

                    break;
                default:
                    error = $"unknown option '{arg}'";
                    break;
            }
        }

        url = string.IsNullOrWhiteSpace(url) ? ClientCommands.DefaultUrl : url;
        if (error is null && (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")))
        {
            error = $"--url '{url}' is not an http(s) URL";
        }

        var options = new ClientOptions(
            Uri.TryCreate(url, UriKind.Absolute, out var u) ? u : new Uri(ClientCommands.DefaultUrl),
            string.IsNullOrEmpty(token) ? null : token, cwd, shell, env, help);
        return (options, args[Math.Min(i, args.Length)..].ToArray(), error);
    }
}
