using System.Diagnostics;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

/// <summary>The run timeout and a client abort stop the whole tree, verified against /proc.</summary>
public sealed class CommandTimeoutTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan DeathDeadline = TimeSpan.FromSeconds(15);

    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 60_000)]
    public async Task Timeout_ms_kills_the_whole_process_group()
    {
        var ct = TestContext.Current.CancellationToken;
        var watch = Stopwatch.StartNew();

        var result = await Client.RunAsync(new RunCommandRequest("echo $$; sleep 300 & echo $!; sleep 300 & echo $!; wait", TimeoutMs: 500), ct);

        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(20));
        result.TimedOut.Should().BeTrue();
        result.Status.Should().Be("failed");
        result.ExitCode.Should().NotBe(0);
        var pids = ProcFs.ParsePids(result.Stdout);
        pids.Should().HaveCount(3, "the shell and both sleeps printed their pids before the timeout: " + result.Stdout);
        await ShouldAllDieAsync(pids, ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Timeout_in_seconds_also_kills_the_command()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await Client.RunAsync(new RunCommandRequest("echo $$; exec sleep 300", Timeout: 0.5), ct);

        result.TimedOut.Should().BeTrue();
        result.TimeoutMs.Should().Be(500, "the effective timeout is echoed in milliseconds");
        await ShouldAllDieAsync(ProcFs.ParsePids(result.Stdout), ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_tree_that_ignores_sigterm_is_killed_anyway()
    {
        var ct = TestContext.Current.CancellationToken;

        // Ignored dispositions survive exec, so both the shell and the sleeps ignore SIGTERM.
        var result = await Client.RunAsync(new RunCommandRequest("trap '' TERM; echo $$; sleep 300 & echo $!; wait; wait", TimeoutMs: 300), ct);

        result.TimedOut.Should().BeTrue();
        result.ExitCode.Should().Be(137, "the group had to be SIGKILLed");
        await ShouldAllDieAsync(ProcFs.ParsePids(result.Stdout), ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_descendant_that_escaped_with_setsid_is_killed_too()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await Client.RunAsync(new RunCommandRequest("setsid sleep 300 & echo $!; wait", TimeoutMs: 500), ct);

        result.TimedOut.Should().BeTrue();
        var pids = ProcFs.ParsePids(result.Stdout);
        pids.Should().ContainSingle();
        await ShouldAllDieAsync(pids, ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_command_that_finishes_before_its_timeout_is_not_marked_timed_out()
    {
        var result = await Client.RunAsync(new RunCommandRequest("echo quick", TimeoutMs: 10_000), TestContext.Current.CancellationToken);

        result.TimedOut.Should().NotBe(true);
        result.ExitCode.Should().Be(0);
        result.Status.Should().Be("completed");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("""{"command":"true","timeout_ms":0}""")]
    [InlineData("""{"command":"true","timeout_ms":-5}""")]
    [InlineData("""{"command":"true","timeout":-1}""")]
    public async Task A_non_positive_timeout_answers_400_json(string body)
    {
        var response = await Client.PostJsonAsync("/run/command", body, TestContext.Current.CancellationToken);

        response.ShouldBeError(400);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_that_aborts_a_foreground_request_gets_the_command_group_killed()
    {
        var ct = TestContext.Current.CancellationToken;
        var pidFile = Path.Combine(Agent.Root, $"abort-{Guid.NewGuid():N}.pids");
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var request = Client.RunAsync($"echo $$ > {pidFile}.tmp; sleep 300 & echo $! >> {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; wait", abort.Token);

        await Eventually.UntilAsync(() => File.Exists(pidFile), TimeSpan.FromSeconds(10), "the command to write its pids", ct);
        var pids = ProcFs.ParsePids(await File.ReadAllTextAsync(pidFile, ct));
        pids.Should().HaveCount(2);
        pids.Should().OnlyContain(pid => ProcFs.IsAlive(pid));
        await abort.CancelAsync();
        var aborted = async () => await request;
        await aborted.Should().ThrowAsync<OperationCanceledException>();

        await ShouldAllDieAsync(pids, ct);
        (await Agent.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);
    }

    private static async Task ShouldAllDieAsync(IReadOnlyList<int> pids, CancellationToken ct)
    {
        var alive = await Eventually.UntilAsync(
            () => pids.Where(ProcFs.IsAlive).ToList(),
            left => left.Count == 0,
            DeathDeadline,
            $"processes {string.Join(' ', pids)} to die",
            ct);
        alive.Should().BeEmpty();
    }
}

/// <summary>A fixture whose agent keeps at most 4 KiB of each output stream.</summary>
public sealed class SmallOutputCapAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--output-cap", "4096");
}

public sealed class OutputCapTests(SmallOutputCapAgentFixture fixture) : IClassFixture<SmallOutputCapAgentFixture>
{
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 30_000)]
    public async Task Output_over_the_cap_is_truncated_and_keeps_the_tail()
    {
        var result = await Client.RunAsync("seq 1 20000", TestContext.Current.CancellationToken);

        result.Truncated.Should().BeTrue();
        result.Stdout.Should().EndWith("\n19999\n20000\n");
        result.Stdout.Should().NotStartWith("1\n2\n");
        System.Text.Encoding.UTF8.GetByteCount(result.Stdout).Should().BeInRange(1, 4096);
        result.ExitCode.Should().Be(0);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_cap_applies_to_stdout_and_stderr_independently()
    {
        var result = await Client.RunAsync("seq 1 20000 >&2; echo small", TestContext.Current.CancellationToken);

        result.Truncated.Should().BeTrue();
        result.Stdout.Should().Be("small\n");
        result.Stderr.Should().EndWith("\n20000\n");
        System.Text.Encoding.UTF8.GetByteCount(result.Stderr).Should().BeLessThanOrEqualTo(4096);
    }

    [Fact(Timeout = 30_000)]
    public async Task Output_under_the_cap_is_not_marked_truncated()
    {
        var result = await Client.RunAsync("seq 1 100", TestContext.Current.CancellationToken);

        result.Truncated.Should().BeFalse();
        result.Stdout.Should().StartWith("1\n2\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Truncation_never_splits_a_multibyte_character()
    {
        // 3-byte characters: a cut at an arbitrary byte would leave a broken sequence at the start of the tail.
        var result = await Client.RunAsync("""i=0; while [ $i -lt 3000 ]; do printf '€'; i=$((i+1)); done""", TestContext.Current.CancellationToken);

        result.Truncated.Should().BeTrue();
        result.Stdout.Should().NotContain("\uFFFD");
        result.Stdout.Should().MatchRegex("^€+$");
    }
}
