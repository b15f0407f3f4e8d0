namespace Sandboxd.Testing;

/// <summary>Polls a real condition until it holds or a deadline passes: the only way the tests wait.</summary>
public static class Eventually
{
    public static async Task<T> UntilAsync<T>(
        Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = 5;
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; last value: {Describe(value)}");
            }

            await Task.Delay(delay, cancellationToken);
            delay = Math.Min(delay * 2, 100);
        }
    }

    public static Task<T> UntilAsync<T>(Func<T> probe, Func<T, bool> done, TimeSpan timeout, string what, CancellationToken cancellationToken) =>
        UntilAsync(() => Task.FromResult(probe()), done, timeout, what, cancellationToken);

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, CancellationToken cancellationToken) =>
        UntilAsync(condition, ok => ok, timeout, what, cancellationToken);

    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken) =>
        UntilAsync(condition, ok => ok, timeout, what, cancellationToken);

    private static string Describe<T>(T value) => value switch
    {
        null => "null",
        string s => s,
        System.Collections.IEnumerable list => "[" + string.Join(", ", list.Cast<object?>()) + "]",
        _ => value.ToString() ?? "",
    };
}
