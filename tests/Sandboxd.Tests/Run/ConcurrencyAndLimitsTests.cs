using System.Globalization;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

/// <summary>Many commands at once, big outputs on both pipes, and extreme field values.</summary>
public sealed class ConcurrencyAndLimitsTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentClient Client => fixture.Client;

    [Fact(Timeout = 60_000)]
    public async Task Concurrent_commands_each_get_their_own_output()
    {
        var ct = TestContext.Current.CancellationToken;

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Client.RunAsync($"echo out-{i}; echo err-{i} >&2; exit {i % 5}", ct)));

        for (var i = 0; i < results.Length; i++)
        {
            results[i].Stdout.Should().Be($"out-{i}\n");
            results[i].Stderr.Should().Be($"err-{i}\n");
            results[i].ExitCode.Should().Be(i % 5);
        }

        results.Select(r => r.CmdId).Should().OnlyHaveUniqueItems();
    }

    [Fact(Timeout = 60_000)]
    public async Task Large_output_on_both_pipes_at_once_is_captured_whole()
    {
        var ct = TestContext.Current.CancellationToken;
        // Each side alone overflows a 64 KiB pipe buffer, so a reader that drains one pipe at a time would deadlock.
        var expected = string.Concat(Enumerable.Range(1, 50_000).Select(i => i.ToString(CultureInfo.InvariantCulture) + "\n"));

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Client.RunAsync("seq 1 50000 >&2 & seq 1 50000; wait", ct)));

        foreach (var result in results)
        {
            result.Stdout.Should().Be(expected);
            result.Stderr.Should().Be(expected);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Output_written_without_a_trailing_newline_is_kept()
    {
        var result = await Client.RunAsync("printf 'no newline'; printf 'err no newline' >&2", TestContext.Current.CancellationToken);

        result.Stdout.Should().Be("no newline");
        result.Stderr.Should().Be("err no newline");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("""{"command":"echo hi","timeout_ms":5000000000}""")]
    [InlineData("""{"command":"echo hi","timeout_ms":1000000000000000}""")]
    [InlineData("""{"command":"echo hi","timeout":5000000}""")]
    [InlineData("""{"command":"echo hi","timeout":1e300}""")]
    public async Task A_very_large_run_timeout_is_honoured_or_rejected_but_never_a_500(string body)
    {
        var response = await Client.PostJsonAsync("/run/command", body, TestContext.Current.CancellationToken);

        response.Code.Should().BeOneOf([200, 400], response.Describe());
        if (response.Code == 200)
        {
            response.Data.GetProperty("stdout").GetString().Should().Be("hi\n");
            response.Data.GetProperty("exit_code").GetInt32().Should().Be(0);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_very_large_run_timeout_on_run_code_is_honoured_or_rejected_but_never_a_500()
    {
        var response = await Client.PostJsonAsync("/run/code", """{"code":"echo hi","language":"sh","timeout_ms":5000000000}""", TestContext.Current.CancellationToken);

        response.Code.Should().BeOneOf([200, 400], response.Describe());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_background_command_with_a_very_large_timeout_still_completes()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await Client.PostJsonAsync("/run/command", """{"command":"echo bg","background":true,"timeout_ms":5000000000}""", ct);
        if (response.Code == 400)
        {
            return; // rejected up front: fine
        }

        var started = response.ShouldHaveStatus(200).Envelope(AgentClient.Wire.EnvelopeCommandResult);
        var waited = await Client.GetAsync($"/terminals/{started.TerminalId}/commands/{started.CmdId}/wait?timeout=5", ct);

        waited.ShouldHaveStatus(200);
        waited.Data.GetProperty("status").GetString().Should().Be("completed");
        waited.Data.GetProperty("stdout").GetString().Should().Be("bg\n");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("""{"command":"true","env":{"A=B":"x"}}""")]
    [InlineData("""{"command":"true","env":{"":"x"}}""")]
    [InlineData("""{"command":"true","env":{"A":"x\u0000y"}}""")]
    [InlineData("""{"command":"   "}""")]
    [InlineData("""{"command":""}""")]
    [InlineData("""{"command":"true","cwd":"a\u0000b"}""")]
    public async Task Invalid_command_fields_answer_400_json(string body)
    {
        (await Client.PostJsonAsync("/run/command", body, TestContext.Current.CancellationToken)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_cwd_that_is_a_file_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(fixture.Agent.Root, "cwd-file"), "", ct);

        (await Client.PostJsonAsync("/run/command", """{"command":"true","cwd":"cwd-file"}""", ct)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_request_fields_are_ignored()
    {
        var response = await Client.PostJsonAsync("/run/command", """{"command":"echo ok","futureField":{"x":[1,2]},"waitForCompletion":true}""", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("stdout").GetString().Should().Be("ok\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_lowercase_bearer_scheme_is_accepted()
    {
        var agent = fixture.Agent;
        var response = await agent.Anonymous.SendAsync(HttpMethod.Post, "/run/command", """{"command":"echo ok"}""", TestContext.Current.CancellationToken,
            r => r.Headers.TryAddWithoutValidation("Authorization", "bearer " + agent.Token));

        response.ShouldHaveStatus(200);
    }
}
