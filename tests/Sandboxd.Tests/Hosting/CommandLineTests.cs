using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

public sealed partial class CommandLineTests
{
    [GeneratedRegex(@"^sandboxd ready http://127\.0\.0\.1:(\d+)$")]
    private static partial Regex ReadyLine();

    [Fact(Timeout = 30_000)]
    public async Task Version_prints_the_version_and_exits_zero()
    {
        var result = await AgentCli.RunAsync(["--version"], TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(0, result.StandardError);
        result.StandardOutput.Should().MatchRegex(@"^sandboxd \d+\.\d+\.\d+\S*\n$");
    }

    [Fact(Timeout = 30_000)]
    public async Task Help_prints_usage_and_exits_zero()
    {
        var result = await AgentCli.RunAsync(["--help"], TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(0, result.StandardError);
        result.StandardOutput.Should().Contain("Usage:").And.Contain("--access-token").And.Contain("--port");
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_option_exits_non_zero_and_names_the_option()
    {
        var result = await AgentCli.RunAsync(["start", "--no-such-option"], TestContext.Current.CancellationToken);

        result.ExitCode.Should().NotBe(0);
        result.StandardError.Should().Contain("--no-such-option");
        result.StandardOutput.Should().NotContain("sandboxd ready");
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_command_exits_non_zero_with_a_message()
    {
        var result = await AgentCli.RunAsync(["frobnicate"], TestContext.Current.CancellationToken);

        result.ExitCode.Should().NotBe(0);
        result.StandardError.Should().Contain("frobnicate");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("--port", "70000")]
    [InlineData("--port", "abc")]
    [InlineData("--output-cap", "100")]
    [InlineData("--max-body", "lots")]
    [InlineData("--port")]
    public async Task An_invalid_option_value_exits_non_zero_and_names_the_option(params string[] option)
    {
        var root = Path.GetTempPath();

        var result = await AgentCli.RunAsync(["start", "--root", root, "--state-dir", root, .. option], TestContext.Current.CancellationToken);

        result.ExitCode.Should().NotBe(0);
        result.StandardError.Should().Contain(option[0]);
        result.StandardOutput.Should().NotContain("sandboxd ready");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_port_already_in_use_exits_non_zero_without_a_ready_line()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var first = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        var root = Directory.CreateTempSubdirectory("sandboxd-root-").FullName;
        try
        {
            var port = first.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var result = await AgentCli.RunAsync(["start", "--port", port, "--root", root, "--state-dir", root, "--access-token", "x"], ct);

            result.ExitCode.Should().NotBe(0);
            result.StandardOutput.Should().NotContain("sandboxd ready");
            result.StandardError.Should().Contain(port);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        (await first.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sigint_also_stops_the_agent_cleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        // A process started in the background by a non-interactive shell inherits SIGINT ignored, and the runtime keeps
        // an inherited SIG_IGN for SIGINT (as shells do), so the test would depend on how the suite was launched: the
        // agent starts with SIGINT at its default disposition here, as from a terminal.
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default with { Wrapper = ["env", "--default-signal=INT"] }, ct);

        Posix.Kill(agent.Pid, Posix.SIGINT);

        await Eventually.UntilAsync(() => agent.HasExited, TimeSpan.FromSeconds(15), "the agent to exit on SIGINT", ct);
        agent.ExitCode.Should().Be(0, agent.StderrTail());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_root_directory_exits_non_zero_before_serving()
    {
        var missing = Path.Combine(Path.GetTempPath(), "sandboxd-missing-" + Guid.NewGuid().ToString("N"));

        var result = await AgentCli.RunAsync(["start", "--port", "0", "--root", missing], TestContext.Current.CancellationToken);

        result.ExitCode.Should().NotBe(0);
        result.StandardError.Should().Contain(missing);
    }

    [Fact(Timeout = 30_000)]
    public async Task Port_zero_prints_exactly_one_ready_line_with_the_bound_port_and_sigterm_exits_zero()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);

        var match = ReadyLine().Match(agent.ReadyLine);
        match.Success.Should().BeTrue($"the ready line was '{agent.ReadyLine}'");
        int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture).Should().BeInRange(1, 65535);
        (await agent.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);

        var exitCode = await agent.StopAsync(ct);

        exitCode.Should().Be(0, agent.StderrTail());
        agent.ExtraStdout.Should().BeEmpty("stdout carries only the ready line; logs go to stderr");
        agent.Stderr.Should().Contain(agent.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "startup is logged on stderr");
    }

    [Fact(Timeout = 30_000)]
    public async Task Sigterm_stops_running_commands_before_the_agent_exits()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        var started = await agent.Client.RunAsync(new RunCommandRequest("sleep 300 & echo $!; wait", Background: true), ct);
        started.Status.Should().Be("running");
        var sleeper = await WaitForBackgroundPidAsync(agent, started, ct);
        ProcFs.IsAlive(sleeper).Should().BeTrue();

        var exitCode = await agent.StopAsync(ct);

        exitCode.Should().Be(0, agent.StderrTail());
        await Eventually.UntilAsync(() => !ProcFs.IsAlive(sleeper), TimeSpan.FromSeconds(5), $"sleep {sleeper} to die with the agent", ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sigterm_during_a_foreground_request_stops_the_command_and_exits_zero_promptly()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, ct);
        var pidFile = Path.Combine(agent.Root, "fg.pid");
        var request = agent.Client.Http.PostAsync("/run/command",
            new StringContent($$"""{"command":"sleep 300 & echo $! > {{pidFile}}.tmp; mv {{pidFile}}.tmp {{pidFile}}; wait"}""",
                System.Text.Encoding.UTF8, "application/json"), ct);
        await Eventually.UntilAsync(() => File.Exists(pidFile), TimeSpan.FromSeconds(10), "the command to start", ct);
        var sleeper = ProcFs.ParsePids(await File.ReadAllTextAsync(pidFile, ct))[0];
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var exitCode = await agent.StopAsync(ct);

        exitCode.Should().Be(0, agent.StderrTail());
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "shutdown stops children (TERM, 2 s grace, KILL) instead of waiting for them");
        await Eventually.UntilAsync(() => !ProcFs.IsAlive(sleeper), TimeSpan.FromSeconds(5), $"sleep {sleeper} to die with the agent", ct);
        try
        {
            using var response = await request;
        }
        catch (HttpRequestException)
        {
            // The connection may be closed under the request; either outcome is fine once the agent is gone.
        }
    }

    private static async Task<int> WaitForBackgroundPidAsync(AgentProcess agent, Sandboxd.Protocol.CommandResult started, CancellationToken ct)
    {
        var response = await Eventually.UntilAsync(
            () => agent.Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}", ct),
            r => r.Code == 200 && r.Data.GetProperty("stdout").GetString()!.Trim().Length > 0,
            TimeSpan.FromSeconds(10), "the background command to print its child pid", ct);
        return ProcFs.ParsePids(response.Data.GetProperty("stdout").GetString()!)[0];
    }
}
