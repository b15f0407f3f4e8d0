namespace Sandboxd.Client.Tests;

/// <summary><c>sandboxd shell</c> in a real terminal: a detached tmux session.</summary>
public sealed class ShellTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 180_000)]
    public async Task Shell_runs_an_interactive_remote_shell_forwards_ctrl_c_and_resizes_and_restores_the_terminal_on_exit()
    {
        var ct = TestContext.Current.CancellationToken;
        var binary = await AgentBinary.GetAsync();
        var work = Directory.CreateTempSubdirectory("sandboxd-shell-").FullName;
        try
        {
            // Record the terminal settings before and after, and the exit code, around the real command.
            var shell = binary.ShellCommand(["shell", "--url", _agent.BaseUrl.ToString(), "--token", _agent.Token]);
            await File.WriteAllTextAsync(Path.Combine(work, "run.sh"), $"cd '{work}'\nstty -g > before\n{shell}\necho $? > code\nstty -g > after\n", ct);
            await using var tmux = await Tmux.StartAsync($"sh '{work}/run.sh'", 100, 30, ct);

            await Eventually.UntilAsync(async () => (await tmux.CaptureAsync(ct)).Trim().Length > 0, TimeSpan.FromSeconds(60), "the remote prompt", ct);
            await tmux.SendKeysAsync(ct, "echo hel\"\"lo", "Enter");
            await tmux.WaitForLineAsync("hello", ct);

            await tmux.SendKeysAsync(ct, "sh -c 'echo sle\"\"eping; exec sleep 100'", "Enter");
            await tmux.WaitForLineAsync("sleeping", ct);
            await tmux.SendKeysAsync(ct, "C-c");
            await tmux.SendKeysAsync(ct, "echo af\"\"ter", "Enter");
            await tmux.WaitForLineAsync("after", ct, seconds: 40);

            await tmux.ResizeAsync(90, 25, ct);
            await Eventually.UntilAsync(async () =>
            {
                await tmux.SendKeysAsync(ct, "stty size", "Enter");
                return (await tmux.CaptureAsync(ct)).Split('\n').Any(l => l.Trim() == "25 90");
            }, TimeSpan.FromSeconds(60), "the remote terminal to be 90x25", ct);

            (await tmux.PaneStateAsync(ct)).Should().StartWith("0", "sandboxd shell is still running");
            await tmux.SendKeysAsync(ct, "exit", "Enter");
            // (tmux 3.3 sometimes reports the dead pane before its exit status: the script's own record is the reliable one.)
            await Eventually.UntilAsync(async () => (await tmux.PaneStateAsync(ct)) + "\n" + await tmux.CaptureAsync(ct), s => s.StartsWith('1'),
                TimeSpan.FromSeconds(60), "the pane's command to end", ct);

            (await File.ReadAllTextAsync(Path.Combine(work, "code"), ct)).Trim().Should().Be("0");
            (await File.ReadAllTextAsync(Path.Combine(work, "after"), ct)).Should().Be(await File.ReadAllTextAsync(Path.Combine(work, "before"), ct));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
