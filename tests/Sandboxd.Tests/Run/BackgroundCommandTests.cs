using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

public sealed class BackgroundCommandTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 30_000)]
    public async Task A_background_command_answers_at_once_with_ids_and_status_running()
    {
        var ct = TestContext.Current.CancellationToken;
        var watch = Stopwatch.StartNew();

        var response = await Client.PostJsonAsync("/run/command", """{"command":"sleep 2; echo late","background":true}""", ct);

        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1.5), "a background command must not wait for the process");
        response.ShouldHaveStatus(200);
        var data = response.Data;
        data.GetProperty("status").GetString().Should().Be("running");
        data.GetProperty("cmd_id").GetString().Should().NotBeNullOrEmpty();
        data.GetProperty("terminal_id").GetString().Should().NotBeNullOrEmpty();
        data.GetProperty("stdout").GetString().Should().BeEmpty();
        data.GetProperty("stderr").GetString().Should().BeEmpty();
        data.TryGetProperty("exit_code", out _).Should().BeFalse("a running command has no exit code yet");
    }

    /// <summary>
    /// A command that ends at once can end before the start's answer is written (a fresh-clone CI run under stress-ng
    /// saw <c>/execute</c> answer "completed"): the answer to a background start is still the started command —
    /// "running", no output, no exit code (daemon-http §5.2, §6.5) — and <c>/wait</c> tells its end.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task A_background_start_answers_running_even_when_the_command_already_ended()
    {
        var ct = TestContext.Current.CancellationToken;
        var terminal = (await Client.PostJsonAsync("/terminals", """{"pty":false}""", ct)).Data.GetProperty("id").GetString();
        for (var i = 0; i < 60; i++)
        {
            var (route, body) = (i % 3) switch
            {
                0 => ("/run/command", """{"command":"true","background":true}"""),
                1 => ("/execute", """{"command":"exit 3","background":true}"""),
                _ => ($"/terminals/{terminal}/execute", """{"command":"true","background":true}"""),
            };
            var response = await Client.PostJsonAsync(route, body, ct);
            response.ShouldHaveStatus(200);
            var data = response.Data;
            data.GetProperty("status").GetString().Should().Be("running", "{0} answers the start of a background command (round {1})", route, i);
            data.TryGetProperty("exit_code", out var code).Should().BeFalse("no exit code in a start's answer, got {0} from {1}", code, route);
            data.GetProperty("stdout").GetString().Should().BeEmpty();

            var ended = await Client.GetAsync($"/terminals/{data.GetProperty("terminal_id").GetString()}/commands/{data.GetProperty("cmd_id").GetString()}/wait?timeout=20", ct);
            ended.Data.GetProperty("exit_code").GetInt32().Should().Be(i % 3 == 1 ? 3 : 0, "/wait tells the end");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Wait_returns_the_finished_record_with_its_output()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("sleep 0.3; echo bg-out; echo bg-err >&2; exit 4", Background: true), ct);

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        response.ShouldHaveStatus(200);
        var info = response.Envelope(AgentClient.Wire.EnvelopeCommandInfo);
        info.CmdId.Should().Be(started.CmdId);
        info.Stdout.Should().Be("bg-out\n");
        info.Stderr.Should().Be("bg-err\n");
        info.ExitCode.Should().Be(4);
        info.Status.Should().Be("failed");
        info.FinishedAt.Should().NotBeNull();
        info.DurationMs.Should().BeGreaterThanOrEqualTo(250);
        info.Command.Should().Be("sleep 0.3; echo bg-out; echo bg-err >&2; exit 4");
    }

    [Fact(Timeout = 30_000)]
    public async Task Wait_without_a_timeout_waits_until_the_command_finishes()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("sleep 0.5; echo done", Background: true), ct);

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("stdout").GetString().Should().Be("done\n");
        response.Data.GetProperty("status").GetString().Should().Be("completed");
    }

    [Fact(Timeout = 30_000)]
    public async Task Wait_with_timeout_zero_means_no_limit()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("sleep 0.3; echo zero", Background: true), ct);

        var response = await Client.SendAsync(HttpMethod.Get, $"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=0", null, ct,
            r => r.Headers.Add("X-Request-Timeout", "0"));

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("stdout").GetString().Should().Be("zero\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Wait_on_an_already_finished_command_returns_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("echo fast", Background: true), ct);
        await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);
        var watch = Stopwatch.StartNew();

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2));
        response.ShouldHaveStatus(200);
        response.Data.GetProperty("stdout").GetString().Should().Be("fast\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Wait_with_an_elapsed_fractional_timeout_answers_408_json_and_the_command_keeps_running()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("sleep 3", Background: true), ct);
        var watch = Stopwatch.StartNew();

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=0.2", ct);

        response.ShouldBeError(408);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2.5), "0.2 s is a fraction of a second, not 2 s or 200 s");
        var record = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}", ct);
        record.Data.GetProperty("status").GetString().Should().Be("running", "the wait timeout detaches; it does not kill");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_running_command_shows_its_output_so_far()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("echo first; sleep 5; echo second", Background: true), ct);

        var response = await Eventually.UntilAsync(
            () => Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}", ct),
            r => r.Code == 200 && r.Data.GetProperty("stdout").GetString() == "first\n",
            TimeSpan.FromSeconds(10), "the first line to be captured", ct);

        response.Data.GetProperty("status").GetString().Should().Be("running");
        response.Data.TryGetProperty("exit_code", out _).Should().BeFalse();
        response.Data.TryGetProperty("finished_at", out _).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task The_command_list_of_the_terminal_includes_it_without_output()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("echo listed", Background: true), ct);
        await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands", ct);

        response.ShouldHaveStatus(200);
        var commands = response.Data.GetProperty("commands").EnumerateArray().ToList();
        response.Data.GetProperty("count").GetInt32().Should().Be(commands.Count);
        var item = commands.Should().ContainSingle(c => c.GetProperty("cmd_id").GetString() == started.CmdId).Subject;
        item.GetProperty("command").GetString().Should().Be("echo listed");
        item.GetProperty("status").GetString().Should().Be("completed");
        item.TryGetProperty("stdout", out var stdout).Should().BeFalse("list items carry no output: " + stdout);
    }

    [Fact(Timeout = 30_000)]
    public async Task Background_commands_share_one_implicit_exec_terminal_listed_as_not_pty()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await Client.RunAsync(new RunCommandRequest("true", Background: true), ct);
        var second = await Client.RunAsync(new RunCommandRequest("true", Background: true), ct);

        second.TerminalId.Should().Be(first.TerminalId);
        var terminal = await Client.GetAsync($"/terminals/{first.TerminalId}", ct);
        terminal.ShouldHaveStatus(200);
        terminal.Data.GetProperty("pty").GetBoolean().Should().BeFalse();
        var list = await Client.GetAsync("/terminals", ct);
        list.Data.GetProperty("terminals").EnumerateArray().Select(t => t.GetProperty("id").GetString()).Should().Contain(first.TerminalId);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_terminal_or_command_ids_answer_404_json()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("true", Background: true), ct);

        (await Client.GetAsync("/terminals/term_000000000000/commands/cmd_000000000000/wait", ct)).ShouldBeError(404);
        (await Client.GetAsync($"/terminals/{started.TerminalId}/commands/cmd_000000000000/wait", ct)).ShouldBeError(404);
        (await Client.GetAsync($"/terminals/{started.TerminalId}/commands/cmd_000000000000", ct)).ShouldBeError(404);
        (await Client.GetAsync("/terminals/term_000000000000/commands", ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_non_numeric_wait_timeout_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("true", Background: true), ct);

        (await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=soon", ct)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_execute_alias_also_starts_background_commands()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await Client.PostJsonAsync("/execute", """{"command":"echo via-execute","background":true}""", ct);
        response.ShouldHaveStatus(200);
        var started = response.Envelope(AgentClient.Wire.EnvelopeCommandResult);
        started.Status.Should().Be("running");

        var waited = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        waited.Data.GetProperty("stdout").GetString().Should().Be("via-execute\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_background_command_with_a_run_timeout_is_killed_and_marked_failed()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("echo $$; exec sleep 300", Background: true, TimeoutMs: 300), ct);

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("status").GetString().Should().Be("failed");
        response.Data.GetProperty("exit_code").GetInt32().Should().NotBe(0);
        var pid = ProcFs.ParsePids(response.Data.GetProperty("stdout").GetString()!)[0];
        await Eventually.UntilAsync(() => !ProcFs.IsAlive(pid), TimeSpan.FromSeconds(10), $"sleep {pid} to die", ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task Timestamps_are_utc_iso8601()
    {
        var ct = TestContext.Current.CancellationToken;
        var started = await Client.RunAsync(new RunCommandRequest("true", Background: true), ct);

        var response = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=20", ct);

        foreach (var name in new[] { "started_at", "finished_at" })
        {
            var value = response.Data.GetProperty(name);
            value.ValueKind.Should().Be(JsonValueKind.String);
            value.GetString().Should().EndWith("Z", $"{name} must be UTC with Z");
        }
    }
}
