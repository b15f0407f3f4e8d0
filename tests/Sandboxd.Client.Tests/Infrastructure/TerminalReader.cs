using System.Text;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>Accumulates a PTY's output (read on a background task) so tests can wait for text in it.</summary>
public sealed class TerminalReader : IAsyncDisposable
{
    private readonly StringBuilder _text = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    public TerminalReader(PtyTerminal terminal)
    {
        _pump = PumpAsync(terminal.Stream);
    }

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>True once the stream returned 0 (the shell ended).</summary>
    public bool Ended { get; private set; }

    /// <summary>Gaps reported by the stream.</summary>
    public List<OutputLostException> Lost { get; } = [];

    public Task WaitForAsync(string text, CancellationToken cancellationToken, int seconds = 60) =>
        Eventually.UntilAsync(() => Text.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(seconds), $"'{text}' in the terminal output", cancellationToken);

    private async Task PumpAsync(Stream stream)
    {
        var decoder = Encoding.UTF8.GetDecoder();
        var buffer = new byte[8192];
        var chars = new char[8192 + 4];
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, _stop.Token);
            }
            catch (OutputLostException e)
            {
                lock (Lost)
                {
                    Lost.Add(e);
                }

                continue;
            }

            if (read == 0)
            {
                Ended = true;
                return;
            }

            var count = decoder.GetChars(buffer, 0, read, chars, 0);
            lock (_text)
            {
                _text.Append(chars, 0, count);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _pump;
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SandboxdException)
        {
            // reading stopped with the test
        }

        _stop.Dispose();
    }
}
