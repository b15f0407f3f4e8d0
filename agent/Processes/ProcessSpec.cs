using Sandboxd.Native;

namespace Sandboxd.Processes;

/// <summary>What to start. <see cref="Argv"/>[0] is the program (searched in PATH when it has no slash).</summary>
internal sealed record ProcessSpec(
    IReadOnlyList<string> Argv,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    StdinKind Stdin = StdinKind.Null,
    (int Cols, int Rows)? PtySize = null);
