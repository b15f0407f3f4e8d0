using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

/// <summary>Every foreground path stops the command's group when the client goes away (spec §5.2).</summary>
public sealed class ClientAbortTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private async Task AbortAndExpectDeathAsync(Func<string, CancellationToken, Task> send, CancellationToken ct)
    {
        var pidFile = Path.Combine(Agent.Root, $"abort-{Guid.NewGuid():N}.pid");
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var request = send($"sleep 300 & echo $! > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; wait", abort.Token);
        await Eventually.UntilAsync(() => File.Exists(pidFile), TimeSpan.FromSeconds(10), "the command to write its pid", ct);
        var pid = ProcFs.ParsePids(await File.ReadAllTextAsync(pidFile, ct))[0];
        ProcFs.IsAlive(pid).Should().BeTrue();

        await abort.CancelAsync();
        var aborted = async () => await request;
        await aborted.Should().ThrowAsync<OperationCanceledException>();

        await Eventually.UntilAsync(() => !ProcFs.IsAlive(pid), TimeSpan.FromSeconds(15), $"sleep {pid} to die after the abort", ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Aborting_run_code_kills_the_code()
    {
        var ct = TestContext.Current.CancellationToken;
        await AbortAndExpectDeathAsync(
            (command, token) => Agent.Client.Http.PostAsync("/run/code",
                new StringContent(System.Text.Json.JsonSerializer.Serialize(new RunCodeRequest(command, "sh"), AgentClient.Wire.RunCodeRequest),
                    System.Text.Encoding.UTF8, "application/json"), token),
            ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Aborting_a_terminal_execute_kills_the_command()
    {
        var ct = TestContext.Current.CancellationToken;
        var terminal = await Agent.Client.PostJsonAsync("/terminals", """{"pty":false}""", ct);
        var id = terminal.Data.GetProperty("id").GetString();

        await AbortAndExpectDeathAsync(
            (command, token) => Agent.Client.Http.PostAsync($"/terminals/{id}/execute",
                new StringContent(System.Text.Json.JsonSerializer.Serialize(new TerminalExecuteRequest(command), AgentClient.Wire.TerminalExecuteRequest),
                    System.Text.Encoding.UTF8, "application/json"), token),
            ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Aborting_a_wait_does_not_kill_the_background_command()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Agent.Client.RunAsync(new RunCommandRequest("echo $$; exec sleep 5", Background: true), ct);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var wait = Agent.Client.Http.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait", abort.Token);
        var record = await Eventually.UntilAsync(
            () => Agent.Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}", ct),
            r => r.Data.GetProperty("stdout").GetString()!.Length > 0, TimeSpan.FromSeconds(10), "the pid", ct);
        var pid = ProcFs.ParsePids(record.Data.GetProperty("stdout").GetString()!)[0];

        await abort.CancelAsync();
        var aborted = async () => await wait;
        await aborted.Should().ThrowAsync<OperationCanceledException>();

        // A second, bounded wait gives a wrongly wired abort time to act; the command must outlive both.
        (await Agent.Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=0.5", ct)).ShouldBeError(408);
        var status = await Agent.Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}", ct);
        status.Data.GetProperty("status").GetString().Should().Be("running");
        ProcFs.IsAlive(pid).Should().BeTrue("the wait timeout/abort detaches; only the run timeout kills");
        Posix.Kill(pid, Posix.SIGKILL);
    }
}
