using System.Collections;

namespace Sandboxd.Processes;

/// <summary>Secret values the agent holds; no child may ever see them in its environment.</summary>
internal sealed record AgentSecrets(IReadOnlyList<string> Values);

/// <summary>
/// Builds a child's environment from layers: the agent's own environment minus its secrets → the sandbox context's
/// variables → the call's variables. One model for commands, code, PTYs and servers.
/// </summary>
internal sealed class ChildEnvironment
{
    private static readonly string[] SecretNames = ["COMPUTESDK_ACCESS_TOKEN", "COMPUTESDK_API_KEY", "COMPUTESDK_SETUP_B64"];
    private readonly Dictionary<string, string> _base;

    public ChildEnvironment(AgentSecrets secrets)
    {
        _base = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            var name = (string)entry.Key;
            var value = (string?)entry.Value ?? "";
            if (SecretNames.Contains(name, StringComparer.Ordinal) || name.StartsWith("SANDBOXD_", StringComparison.Ordinal)
                || name.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || name.StartsWith("DOTNET_", StringComparison.Ordinal)
                || secrets.Values.Any(s => s.Length > 0 && value.Contains(s, StringComparison.Ordinal)))
            {
                continue;
            }

            _base[name] = value;
        }

        if (Native.WorkloadUser.Current is { Switches: true, Name: { } user } runAs)
        {
            // The agent's HOME and USER are root's; the workload's are its own user's.
            _base["HOME"] = runAs.Home ?? "/";
            _base["USER"] = user;
            _base["LOGNAME"] = user;
        }

        _base.TryAdd("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        _base.TryAdd("HOME", Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        _base.TryAdd("LANG", "C.UTF-8");
    }

    public Dictionary<string, string> Build(params IReadOnlyDictionary<string, string>?[] layers)
    {
        var env = new Dictionary<string, string>(_base, StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            if (layer is null)
            {
                continue;
            }

            foreach (var (key, value) in layer)
            {
                env[key] = value;
            }
        }

        return env;
    }
}
