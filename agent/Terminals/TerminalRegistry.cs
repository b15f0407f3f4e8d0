using System.Collections.Concurrent;
using Sandboxd.Core;

namespace Sandboxd.Terminals;

/// <summary>The terminals of one sandbox (kept in its <see cref="SandboxContext"/>).</summary>
internal sealed class TerminalRegistry
{
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>.</remarks>
    private Terminal? _implicit;

    public ConcurrentDictionary<string, Terminal> Terminals { get; } = new(StringComparer.Ordinal);

    /// <summary>Pending and running commands by id, so <c>command:start</c> can find them without a terminal id.</summary>
    public ConcurrentDictionary<string, CommandRecord> Commands { get; } = new(StringComparer.Ordinal);

    /// <summary>The exec terminal that background and streamed <c>/run/command</c> calls live in, created on first use.</summary>
    public Terminal Implicit()
    {
        lock (_gate)
        {
            if (_implicit is null || !Terminals.ContainsKey(_implicit.Id))
            {
                _implicit = new Terminal(pty: false, shell: null, encoding: "raw", isImplicit: true);
                Terminals[_implicit.Id] = _implicit;
            }

            return _implicit;
        }
    }
}
