using System.Net;
using System.Text;

namespace Sandboxd.Client.Tests;

public sealed class RunTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task A_foreground_command_returns_stdout_stderr_and_a_non_zero_exit_code_without_throwing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var result = await client.Run.CommandAsync("echo out; echo err >&2; exit 3", ct);

        result.Stdout.Should().Be("out\n");
        result.Stderr.Should().Be("err\n");
        result.ExitCode.Should().Be(3);
        result.Status.Should().Be("failed");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_memory_limit_is_enforced_and_its_kill_is_reported_as_oom()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        var limits = (await client.Info.GetAsync(ct)).Limits;
        if (limits is not { Memory: true })
        {
            if (Environment.GetEnvironmentVariable("SANDBOXD_REQUIRE_CGROUPS") == "1")
            {
                Assert.Fail($"the agent cannot set memory limits here ({limits?.Reason}) and SANDBOXD_REQUIRE_CGROUPS=1 says it must");
            }

            Assert.Skip($"SKIPPED LOUDLY: the agent cannot set memory limits here: {limits?.Reason}");
        }

        var result = await client.Run.CommandAsync(new RunCommandRequest("x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo survived", MemoryMb: 24), ct);

        result.ExitCode.Should().Be(137);
        result.Reason.Should().Be("oom");
        result.Signal.Should().Be("SIGKILL");
        result.Stdout.Should().BeEmpty();
    }

    [Fact(Timeout = 120_000)]
    public async Task Cwd_and_env_apply_to_the_command()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("run-cwd");
        await using var client = _agent.Client();

        var result = await client.Run.CommandAsync(
            new RunCommandRequest("pwd; echo $GREETING", Cwd: dir, Env: new Dictionary<string, string> { ["GREETING"] = "hi there" }), ct);

        result.Stdout.Should().Be($"{dir}\nhi there\n");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_background_command_can_be_waited_for()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var started = await client.Run.StartAsync("sleep 0.2; echo done", ct);
        var finished = await client.Run.WaitAsync(started, TimeSpan.FromSeconds(60), ct);

        started.Status.Should().Be("running");
        started.CmdId.Should().NotBeNull();
        finished.Status.Should().Be("completed");
        finished.ExitCode.Should().Be(0);
        finished.Stdout.Should().Be("done\n");
    }

    [Fact(Timeout = 120_000)]
    public async Task Waiting_past_the_timeout_throws_408()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        var started = await client.Run.StartAsync("sleep 30", ct);

        var act = () => client.Run.WaitAsync(started, TimeSpan.FromMilliseconds(200), ct);

        (await act.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.RequestTimeout);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_streamed_command_yields_started_then_stdout_and_stderr_then_its_exit_code_last()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var events = new List<CommandEvent>();
        await foreach (var e in client.Run.StreamAsync("echo one; echo two >&2; echo three; exit 7", ct))
        {
            events.Add(e);
        }

        events[0].Should().BeOfType<StartedCommandEvent>().Which.CmdId.Should().StartWith("cmd_");
        events[^1].Should().Be(new ExitedCommandEvent(7));
        string.Concat(events.OfType<StandardOutputCommandEvent>().Select(e => e.Text)).Should().Be("one\nthree\n");
        string.Concat(events.OfType<StandardErrorCommandEvent>().Select(e => e.Text)).Should().Be("two\n");
        events.OfType<OutputLostCommandEvent>().Should().BeEmpty();
    }

    [Fact(Timeout = 120_000)]
    public async Task Streamed_output_keeps_multibyte_characters_intact()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        var text = string.Concat(Enumerable.Repeat("héllo wörld ✓ 𝄞 ", 5000));

        var stdout = new StringBuilder();
        await foreach (var e in client.Run.StreamAsync($"printf '%s' '{text}'", ct))
        {
            if (e is StandardOutputCommandEvent o)
            {
                stdout.Append(o.Text);
            }
        }

        stdout.ToString().Should().Be(text);
    }

    [Fact(Timeout = 120_000)]
    public async Task Two_streams_run_concurrently_over_the_one_socket()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        async Task<string> CollectAsync(string command)
        {
            var text = new StringBuilder();
            await foreach (var e in client.Run.StreamAsync(command, ct))
            {
                if (e is StandardOutputCommandEvent o)
                {
                    text.Append(o.Text);
                }
            }

            return text.ToString();
        }

        var results = await Task.WhenAll(CollectAsync("for i in 1 2 3; do echo a$i; sleep 0.05; done"), CollectAsync("for i in 1 2 3; do echo b$i; sleep 0.05; done"));

        results[0].Should().Be("a1\na2\na3\n");
        results[1].Should().Be("b1\nb2\nb3\n");
        client.Live.ConnectCount.Should().Be(1);
    }

    [Fact(Timeout = 120_000)]
    public async Task Code_runs_with_the_given_language_and_execute_is_the_legacy_alias()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var code = await client.Run.CodeAsync("echo \"Hello!\"", "bash", ct);
        var node = await client.Run.CodeAsync("console.log(6 * 7)", cancellationToken: ct);
        var legacy = await client.Run.ExecuteAsync(new RunCommandRequest("echo legacy"), ct);

        code.Should().Be(new RunCodeData("Hello!\n", 0, "bash"));
        node.Language.Should().Be("node");
        node.Output.Should().Be("42\n");
        legacy.Stdout.Should().Be("legacy\n");
    }

    [Fact(Timeout = 120_000)]
    public async Task An_unsupported_language_throws_400_with_the_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var act = () => client.Run.CodeAsync("x", "cobol", ct);

        var error = (await act.Should().ThrowAsync<SandboxdException>()).Which;
        error.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        error.Error.Should().Contain("cobol");
    }
}
