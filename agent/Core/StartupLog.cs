namespace Sandboxd.Core;

/// <summary>
/// What happens before the host exists (token resolution) and is worth a log line: kept here and written through the
/// host's logger once it runs, instead of a logger factory of its own for these few lines (a second DI container,
/// console provider and writer thread at start-up; bench/startup/README.md).
/// </summary>
internal sealed class StartupLog
{
    private readonly List<Action<ILogger>> _entries = [];

    public void Add(Action<ILogger> entry) => _entries.Add(entry);

    public void WriteTo(ILogger logger)
    {
        foreach (var entry in _entries)
        {
            entry(logger);
        }

        _entries.Clear();
    }
}
