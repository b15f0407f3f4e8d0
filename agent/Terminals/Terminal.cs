using Sandboxd.Core;
using Sandboxd.Native;

namespace Sandboxd.Terminals;

/// <summary>A terminal of a sandbox: exec mode (a command history) or PTY (a shell on a pseudo-terminal).</summary>
internal sealed partial class Terminal
{
    public const int CommandRetention = 100;
    private readonly Lock _gate = new();
    /// <remarks>Guarded by <see cref="_gate"/>; oldest first, at most <see cref="CommandRetention"/>.</remarks>
    private readonly List<CommandRecord> _commands = [];

    public Terminal(bool pty, string? shell, string encoding, bool isImplicit = false, TimeProvider? time = null)
    {
        CreatedAt = (time ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        Id = Ids.New("term_");
        IsPty = pty;
        Shell = shell;
        Encoding = encoding;
        IsImplicit = isImplicit;
    }

    public string Id { get; }
    public bool IsPty { get; }
    public bool IsImplicit { get; }
    public string? Shell { get; }
    public string Encoding { get; }

    /// <summary>Memory and pid limits of the PTY shell, or the default of an exec terminal's commands.</summary>
    public ResourceLimits? Limits { get; init; }

    public DateTime CreatedAt { get; }
    public string Channel => "terminal:" + Id;

    /// <returns>The records that fell out of the retention window.</returns>
    public List<CommandRecord> Add(CommandRecord record)
    {
        var evicted = new List<CommandRecord>();
        lock (_gate)
        {
            _commands.Add(record);
            // Forget the oldest finished commands beyond the retention; running ones are never dropped.
            for (var i = 0; _commands.Count > CommandRetention && i < _commands.Count;)
            {
                if (_commands[i].Completed.IsCompleted)
                {
                    evicted.Add(_commands[i]);
                    _commands.RemoveAt(i);
                }
                else
                {
                    i++;
                }
            }
        }

        return evicted;
    }

    public bool TryGetCommand(string cmdId, out CommandRecord record)
    {
        lock (_gate)
        {
            record = _commands.Find(c => c.CmdId == cmdId)!;
            return record is not null;
        }
    }

    public CommandRecord[] Commands
    {
        get
        {
            lock (_gate)
            {
                return [.. _commands];
            }
        }
    }
}
