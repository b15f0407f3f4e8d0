using System.Collections.Concurrent;

namespace Sandboxd.Env;

/// <summary>Per-path async locks so two concurrent updates of one env file never lose each other's keys.</summary>
internal sealed class EnvFileLocks
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public async Task<IDisposable> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(path, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(gate);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
