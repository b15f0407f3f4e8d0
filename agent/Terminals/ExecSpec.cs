using Sandboxd.Native;

namespace Sandboxd.Terminals;

/// <summary>A command to run: <c>[Shell, "-c", Command]</c> in <see cref="WorkingDirectory"/> (already resolved and checked),
/// within <see cref="Limits"/> (null: the terminal's, if it has any).</summary>
internal sealed record ExecSpec(
    string Command,
    string Shell,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string>? Environment,
    TimeSpan? Timeout,
    ResourceLimits? Limits = null);
