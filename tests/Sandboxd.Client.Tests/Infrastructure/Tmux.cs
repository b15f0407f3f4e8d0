using System.Diagnostics;
using System.Security.Cryptography;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>A private tmux server (its own socket) with one detached session: a real terminal for <c>sandboxd shell</c>.</summary>
public sealed class Tmux : IAsyncDisposable
{
    private readonly string _socket = "sandboxd-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    public const string Session = "main";

    public static async Task<Tmux> StartAsync(string command, int cols, int rows, CancellationToken cancellationToken)
    {
        var tmux = new Tmux();
        await tmux.RunAsync(cancellationToken, "-f", "/dev/null", "new-session", "-d", "-s", Session, "-x", cols.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture), command, ";", "set-option", "-w", "-t", Session, "remain-on-exit", "on");
        return tmux;
    }

    public Task SendKeysAsync(CancellationToken cancellationToken, params string[] keys) =>
        RunAsync(cancellationToken, ["send-keys", "-t", Session, .. keys]);

    public Task<string> CaptureAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken, "capture-pane", "-p", "-J", "-t", Session);

    public Task ResizeAsync(int cols, int rows, CancellationToken cancellationToken) =>
        RunAsync(cancellationToken, "resize-window", "-t", Session, "-x", cols.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>"1 &lt;status&gt;" once the pane's command has exited (remain-on-exit keeps the pane), "0" while it runs.</summary>
    public async Task<string> PaneStateAsync(CancellationToken cancellationToken) =>
        (await RunAsync(cancellationToken, "display-message", "-p", "-t", Session, "#{pane_dead} #{pane_dead_status}")).Trim();

    /// <summary>Waits until some line of the pane, trimmed, equals <paramref name="line"/>.</summary>
    public Task WaitForLineAsync(string line, CancellationToken cancellationToken, int seconds = 60) =>
        Eventually.UntilAsync(async () => (await CaptureAsync(cancellationToken)).Split('\n').Any(l => l.Trim() == line),
            TimeSpan.FromSeconds(seconds), $"a line '{line}' in the tmux pane", cancellationToken);

    private async Task<string> RunAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        var info = new ProcessStartInfo("tmux") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-L");
        info.ArgumentList.Add(_socket);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not run tmux.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"tmux {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync(CancellationToken.None, "kill-server");
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}
