namespace Sandboxd.Hosting;

/// <summary>
/// What happens before the host exists (token resolution) and is worth a log line: kept here and written through the
/// host's logger once it runs. A logger factory of its own for these few lines cost ≈ 10 ms of start-up (a second DI
/// container, console provider and its writer thread; bench/startup).
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
