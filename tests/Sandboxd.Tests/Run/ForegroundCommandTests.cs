using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

public sealed class ForegroundCommandTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 30_000)]
    public async Task A_command_reports_stdout_and_stderr_separately_with_its_exit_code_and_ids()
    {
        var response = await Client.PostJsonAsync("/run/command", """{"command":"echo out; echo err >&2; echo more"}""", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        var data = response.Data;
        data.GetProperty("stdout").GetString().Should().Be("out\nmore\n");
        data.GetProperty("stderr").GetString().Should().Be("err\n");
        data.GetProperty("exit_code").GetInt32().Should().Be(0);
        data.GetProperty("status").GetString().Should().Be("completed");
        data.GetProperty("command").GetString().Should().Be("echo out; echo err >&2; echo more");
        data.GetProperty("duration_ms").ValueKind.Should().Be(JsonValueKind.Number);
        data.GetProperty("duration_ms").GetInt64().Should().BeGreaterThanOrEqualTo(0);
        data.GetProperty("cmd_id").GetString().Should().MatchRegex("^[A-Za-z0-9_-]+$");
        data.GetProperty("terminal_id").GetString().Should().MatchRegex("^[A-Za-z0-9_-]+$");
        data.GetProperty("pty").GetBoolean().Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_command_inherits_no_descriptor_of_the_agent_beyond_stdin_stdout_and_stderr()
    {
        // `ls` opens /proc/self/fd itself (one more descriptor); anything else would be a leak from the agent
        // (a runtime pipe, /dev/null, a socket) into every command, terminal and server.
        var result = await Client.RunAsync("exec ls /proc/self/fd", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(0, result.Stderr);
        var fds = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order().ToList();
        fds.Should().HaveCount(4, $"0, 1, 2 and ls's own directory descriptor; got {string.Join(' ', fds)}");
        fds.Take(3).Should().Equal(0, 1, 2);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_non_zero_exit_is_still_200_with_status_failed()
    {
        var result = await Client.RunAsync("echo partial; exit 7", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(7);
        result.Status.Should().Be("failed");
        result.Stdout.Should().Be("partial\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Duration_is_measured_in_milliseconds()
    {
        var result = await Client.RunAsync("sleep 0.3", TestContext.Current.CancellationToken);

        result.DurationMs.Should().BeInRange(250, 5_000, "a 0.3 s sleep takes about 300 ms (not ns, not s)");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_killed_command_reports_128_plus_the_signal()
    {
        var result = await Client.RunAsync("kill -9 $$", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(137);
        result.Status.Should().Be("failed");
    }

    [Fact(Timeout = 30_000)]
    public async Task The_default_cwd_is_the_sandbox_root()
    {
        var result = await Client.RunAsync("pwd", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be(Agent.Root + "\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_relative_cwd_resolves_against_the_root()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "sub", "dir"));

        var result = await Client.RunAsync(new RunCommandRequest("pwd", Cwd: "sub/dir"), ct);

        result.Stdout.Should().Be(Path.Combine(Agent.Root, "sub", "dir") + "\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task An_absolute_cwd_is_used_as_is()
    {
        var result = await Client.RunAsync(new RunCommandRequest("pwd", Cwd: "/usr"), TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("/usr\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_cwd_answers_400_json()
    {
        var response = await Client.PostJsonAsync("/run/command", """{"command":"touch should-not-exist","cwd":"no/such/dir"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(400);
        File.Exists(Path.Combine(Agent.Root, "should-not-exist")).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Env_vars_reach_the_child_and_override_inherited_ones()
    {
        var env = new Dictionary<string, string> { ["GREETING"] = "hello world", ["PATH_EXTRA"] = "a:b", ["HOME"] = "/custom/home" };

        var result = await Client.RunAsync(new RunCommandRequest("""printf '%s|%s|%s' "$GREETING" "$PATH_EXTRA" "$HOME" """, Env: env), TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("hello world|a:b|/custom/home");
    }

    [Fact(Timeout = 30_000)]
    public async Task Stdin_is_empty_so_a_reader_does_not_hang()
    {
        var result = await Client.RunAsync("cat; echo after", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("after\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_program_exits_127_with_the_shells_not_found_text()
    {
        var result = await Client.RunAsync("definitely-not-a-program-xyz --flag", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(127);
        result.Status.Should().Be("failed");
        result.Stderr.Should().Contain("definitely-not-a-program-xyz").And.Contain("not found");
    }

    [Fact(Timeout = 30_000)]
    public async Task The_shell_field_chooses_the_shell_and_is_argv0()
    {
        var result = await Client.RunAsync(new RunCommandRequest("""echo "$0"; [ -n "$BASH_VERSION" ] && echo bash""", Shell: "/bin/bash"), TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("/bin/bash\nbash\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task The_default_shell_is_bin_sh()
    {
        var result = await Client.RunAsync("""echo "$0" """, TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("/bin/sh\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_shell_exits_127_with_a_reason()
    {
        var result = await Client.RunAsync(new RunCommandRequest("echo hi", Shell: "/no/such/shell"), TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(127);
        result.Stderr.Should().Contain("/no/such/shell");
    }

    [Fact(Timeout = 30_000)]
    public async Task Posix_single_quoting_from_the_client_survives()
    {
        var result = await Client.RunAsync("""printf '%s\n' 'it'\''s' 'a  b' '$HOME'""", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("it's\na  b\n$HOME\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Invalid_utf8_output_becomes_replacement_characters()
    {
        var result = await Client.RunAsync("""printf 'a\377b'""", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("a\uFFFDb");
    }

    [Fact(Timeout = 30_000)]
    public async Task Multibyte_output_is_decoded_as_utf8()
    {
        var result = await Client.RunAsync("""printf 'ü€😀'""", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("ü€😀");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_background_grandchild_holding_stdout_open_does_not_delay_the_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        var watch = Stopwatch.StartNew();

        var result = await Client.RunAsync("sleep 30 & echo $!; echo done", ct);

        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "the leader exited at once; the grandchild's open pipe must not hold the reply");
        result.ExitCode.Should().Be(0);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(2);
        lines[1].Should().Be("done");
        Posix.Kill(ProcFs.ParsePids(lines[0])[0], Posix.SIGKILL);
    }

    [Fact(Timeout = 30_000)]
    public async Task Execute_is_the_legacy_alias_of_run_command()
    {
        var response = await Client.PostJsonAsync("/execute", """{"command":"echo legacy; exit 2"}""", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        var result = response.Envelope(AgentClient.Wire.EnvelopeCommandResult);
        result.Stdout.Should().Be("legacy\n");
        result.ExitCode.Should().Be(2);
        result.Status.Should().Be("failed");
        result.CmdId.Should().NotBeNullOrEmpty();
        result.TerminalId.Should().NotBeNullOrEmpty();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_finished_foreground_command_is_retrievable_by_its_ids()
    {
        var ct = TestContext.Current.CancellationToken;
        var result = await Client.RunAsync("echo remember me", ct);

        var response = await Client.GetAsync($"/terminals/{result.TerminalId}/commands/{result.CmdId}", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("stdout").GetString().Should().Be("remember me\n");
        response.Data.GetProperty("exit_code").GetInt32().Should().Be(0);
        response.Data.GetProperty("status").GetString().Should().Be("completed");
    }

    [Fact(Timeout = 30_000)]
    public async Task Large_output_is_returned_whole_under_the_default_cap()
    {
        var result = await Client.RunAsync("seq 1 200000", TestContext.Current.CancellationToken);

        result.Stdout.Should().StartWith("1\n2\n3\n").And.EndWith("\n199999\n200000\n");
        result.Stdout.Length.Should().Be(Enumerable.Range(1, 200000).Sum(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1));
        result.Truncated.Should().NotBe(true);
    }
}
