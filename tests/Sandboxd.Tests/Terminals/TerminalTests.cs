using System.Text.Json;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Terminals;

/// <summary>Terminals over HTTP (spec §6): exec terminals with command records, PTY terminals with a shell process.</summary>
public sealed class TerminalTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private async Task<JsonElement> CreateAsync(string body)
    {
        var response = await Client.PostJsonAsync("/terminals", body, TestContext.Current.CancellationToken);
        response.Code.Should().BeOneOf([200, 201], response.Describe());
        return response.Data;
    }

    [Fact(Timeout = 30_000)]
    public async Task An_exec_terminal_is_created_running_without_a_channel()
    {
        var ct = TestContext.Current.CancellationToken;

        var data = await CreateAsync("""{"pty":false}""");

        var id = data.GetProperty("id").GetString()!;
        id.Should().MatchRegex("^[A-Za-z0-9_-]+$");
        data.GetProperty("pty").GetBoolean().Should().BeFalse();
        data.GetProperty("status").GetString().Should().Be("running");
        data.TryGetProperty("channel", out _).Should().BeFalse("exec terminals have no channel");
        var fetched = await Client.GetAsync($"/terminals/{id}", ct);
        fetched.ShouldHaveStatus(200);
        fetched.Data.GetProperty("id").GetString().Should().Be(id);
        var list = await Client.GetAsync("/terminals", ct);
        list.Data.GetProperty("terminals").EnumerateArray().Select(t => t.GetProperty("id").GetString()).Should().Contain(id);
    }

    [Fact(Timeout = 30_000)]
    public async Task Execute_in_an_exec_terminal_runs_in_the_foreground_and_is_recorded()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = (await CreateAsync("""{"pty":false}""")).GetProperty("id").GetString();

        var response = await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"echo in-terminal; pwd; exit 5"}""", ct);

        response.ShouldHaveStatus(200);
        var info = response.Envelope(AgentClient.Wire.EnvelopeCommandInfo);
        info.TerminalId.Should().Be(id);
        info.CmdId.Should().NotBeNullOrEmpty();
        info.Stdout.Should().Be($"in-terminal\n{Agent.Root}\n");
        info.ExitCode.Should().Be(5);
        info.Status.Should().Be("failed");
        info.DurationMs.Should().NotBeNull();
        var commands = await Client.GetAsync($"/terminals/{id}/commands", ct);
        commands.Data.GetProperty("count").GetInt32().Should().Be(1);
        commands.Data.GetProperty("commands")[0].GetProperty("cmd_id").GetString().Should().Be(info.CmdId);
    }

    [Fact(Timeout = 30_000)]
    public async Task Execute_in_the_background_returns_running_and_wait_gets_the_result()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = (await CreateAsync("""{"pty":false}""")).GetProperty("id").GetString();

        var response = await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"sleep 0.2; echo later","background":true}""", ct);

        response.ShouldHaveStatus(200);
        var started = response.Envelope(AgentClient.Wire.EnvelopeCommandInfo);
        started.Status.Should().Be("running");
        started.Stdout.Should().BeEmpty();
        started.ExitCode.Should().BeNull();
        var waited = await Client.GetAsync($"/terminals/{id}/commands/{started.CmdId}/wait?timeout=20", ct);
        waited.Envelope(AgentClient.Wire.EnvelopeCommandInfo).Stdout.Should().Be("later\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Commands_in_one_terminal_do_not_share_shell_state()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = (await CreateAsync("""{"pty":false}""")).GetProperty("id").GetString();

        await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"export SHARED=1; cd /"}""", ct);
        var second = await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"echo \"[$SHARED]\"; pwd"}""", ct);

        second.Envelope(AgentClient.Wire.EnvelopeCommandInfo).Stdout.Should().Be($"[]\n{Agent.Root}\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_an_exec_terminal_kills_its_running_commands_and_forgets_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = (await CreateAsync("""{"pty":false}""")).GetProperty("id").GetString();
        var started = (await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"echo $$; sleep 300 & echo $!; wait","background":true}""", ct))
            .Envelope(AgentClient.Wire.EnvelopeCommandInfo);
        var printed = await Eventually.UntilAsync(
            () => Client.GetAsync($"/terminals/{id}/commands/{started.CmdId}", ct),
            r => r.Code == 200 && ProcFs.ParsePids(r.Data.GetProperty("stdout").GetString()!).Count == 2,
            TimeSpan.FromSeconds(10), "both pids to be printed", ct);
        var pids = ProcFs.ParsePids(printed.Data.GetProperty("stdout").GetString()!);

        var deleted = await Client.DeleteAsync($"/terminals/{id}", ct);

        deleted.ShouldHaveStatus(204);
        deleted.Text.Should().BeEmpty();
        await Eventually.UntilAsync(() => pids.Where(ProcFs.IsAlive).ToList(), left => left.Count == 0, TimeSpan.FromSeconds(15), "the terminal's commands to die", ct);
        (await Client.GetAsync($"/terminals/{id}", ct)).ShouldBeError(404);
        (await Client.DeleteAsync($"/terminals/{id}", ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_terminal_ids_answer_404_json()
    {
        var ct = TestContext.Current.CancellationToken;

        (await Client.GetAsync("/terminals/term_ffffffffffff", ct)).ShouldBeError(404);
        (await Client.DeleteAsync("/terminals/term_ffffffffffff", ct)).ShouldBeError(404);
        (await Client.PostJsonAsync("/terminals/term_ffffffffffff/execute", """{"command":"true"}""", ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_invalid_encoding_answers_400_json()
    {
        (await Client.PostJsonAsync("/terminals", """{"pty":true,"encoding":"utf-16"}""", TestContext.Current.CancellationToken)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_pty_terminal_has_a_channel_and_a_live_shell_that_delete_kills()
    {
        var ct = TestContext.Current.CancellationToken;

        var data = await CreateAsync("""{"pty":true}""");

        var id = data.GetProperty("id").GetString()!;
        data.GetProperty("pty").GetBoolean().Should().BeTrue();
        data.GetProperty("status").GetString().Should().Be("running");
        data.GetProperty("channel").GetString().Should().Be("terminal:" + id);
        data.GetProperty("ws_url").GetString().Should().StartWith("ws://").And.EndWith("/ws");
        var pid = data.GetProperty("pid").GetInt32();
        ProcFs.IsAlive(pid).Should().BeTrue();
        ProcFs.TryRead(pid, out var stat).Should().BeTrue();
        stat.ProcessGroup.Should().Be(pid, "the shell leads its own process group");

        (await Client.DeleteAsync($"/terminals/{id}", ct)).ShouldHaveStatus(204);

        await Eventually.UntilAsync(() => !ProcFs.IsAlive(pid), TimeSpan.FromSeconds(10), $"PTY shell {pid} to die", ct);
        (await Client.GetAsync($"/terminals/{id}", ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_pty_terminal_refuses_execute_and_command_history_with_400()
    {
        var ct = TestContext.Current.CancellationToken;
        var id = (await CreateAsync("""{"pty":true}""")).GetProperty("id").GetString();
        try
        {
            (await Client.PostJsonAsync($"/terminals/{id}/execute", """{"command":"true"}""", ct)).ShouldBeError(400);
            (await Client.GetAsync($"/terminals/{id}/commands", ct)).ShouldBeError(400);
            (await Client.GetAsync($"/terminals/{id}/commands/cmd_000000000000/wait", ct)).ShouldBeError(400);
        }
        finally
        {
            await Client.DeleteAsync($"/terminals/{id}", ct);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_pty_shell_that_exits_by_itself_stays_listed_as_stopped()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = await CreateAsync("""{"pty":true,"shell":"/bin/sh"}""");
        var id = data.GetProperty("id").GetString();
        var pid = data.GetProperty("pid").GetInt32();

        Posix.Kill(pid, Posix.SIGKILL);

        var stopped = await Eventually.UntilAsync(
            () => Client.GetAsync($"/terminals/{id}", ct),
            r => r.Code == 200 && r.Data.GetProperty("status").GetString() == "stopped",
            TimeSpan.FromSeconds(10), "the terminal to be marked stopped", ct);
        stopped.Data.GetProperty("pty").GetBoolean().Should().BeTrue();
        (await Client.DeleteAsync($"/terminals/{id}", ct)).ShouldHaveStatus(204);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_pty_shell_answers_400_json()
    {
        (await Client.PostJsonAsync("/terminals", """{"pty":true,"shell":"/no/such/shell"}""", TestContext.Current.CancellationToken)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stream_command_is_registered_pending_with_a_channel_and_not_started()
    {
        var ct = TestContext.Current.CancellationToken;
        var marker = Path.Combine(Agent.Root, $"stream-{Guid.NewGuid():N}");

        var response = await Client.PostAsync("/run/command", new RunCommandRequest($"touch {marker}", Stream: true), AgentClient.Wire.RunCommandRequest, ct);

        response.ShouldHaveStatus(200);
        var result = response.Envelope(AgentClient.Wire.EnvelopeCommandResult);
        result.CmdId.Should().NotBeNullOrEmpty();
        result.Channel.Should().Be("command:" + result.CmdId);
        result.Status.Should().Be("pending");
        result.TerminalId.Should().NotBeNullOrEmpty();
        File.Exists(marker).Should().BeFalse("a streamed command starts only on command:start over the WebSocket");
    }
}
