using System.Reflection;

namespace Sandboxd.Core;

/// <summary>The agent's version, from its assembly's informational version (without the source-revision suffix).</summary>
internal static class AgentVersion
{
    public static string Current { get; } =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
