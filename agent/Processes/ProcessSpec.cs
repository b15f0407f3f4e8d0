using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>What to start. <see cref="Argv"/>[0] is the program (searched in PATH when it has no slash).
/// <see cref="StopEarly"/>: stopped as soon as the agent begins to shut down (commands, terminals), so open requests
/// waiting on it finish at once; false for children whose owner stops them gracefully (servers). <see cref="Limits"/>:
/// memory and pid limits through a cgroup of the child's own (<see cref="CgroupHost"/>).</summary>
internal sealed record ProcessSpec(
    IReadOnlyList<string> Argv,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    StdinKind Stdin = StdinKind.Null,
    (int Cols, int Rows)? PtySize = null,
    bool StopEarly = true,
    ProcessOwner? Owner = null,
    ResourceLimits? Limits = null);

/// <summary>Who started a child, for the process list and its signal route: the sandbox (its subdomain) and the
/// terminal, command or server (<paramref name="Kind"/>, <paramref name="Id"/>).</summary>
internal sealed record ProcessOwner(string Sandbox, string Kind, string Id);
