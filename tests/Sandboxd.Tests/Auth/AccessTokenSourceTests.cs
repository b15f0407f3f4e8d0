using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Auth;

/// <summary>Where the access token comes from. Each test starts its own agent: the token is global state.</summary>
public sealed class AccessTokenSourceTests
{
    [Fact(Timeout = 30_000)]
    public async Task Without_a_token_the_agent_generates_one_into_a_0600_file_and_never_logs_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch { PassAccessToken = false }, ct);
        var tokenFile = Path.Combine(agent.StateDir, "access-token");

        File.Exists(tokenFile).Should().BeTrue(agent.StderrTail());
        File.GetUnixFileMode(tokenFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var token = (await File.ReadAllTextAsync(tokenFile, ct)).Trim();
        token.Length.Should().BeGreaterThanOrEqualTo(32, "a generated token must carry real entropy");
        // The console logger writes on its own thread: the line may land just after the ready line.
        await Eventually.UntilAsync(() => agent.Stderr.Contains(tokenFile, StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the operator is told where the token is", ct);
        agent.Stderr.Should().NotContain(token);

        (await agent.Anonymous.GetAsync("/files?path=/", ct)).ShouldBeError(401);
        agent.UseToken(token);
        var status = await agent.Client.GetAsync("/auth/status", ct);
        status.Data.GetProperty("authenticated").GetBoolean().Should().BeTrue(status.Describe());
        (await agent.Client.GetAsync("/files?path=/", ct)).ShouldHaveStatus(200);
        agent.Stderr.Should().NotContain(token, "requests must not log the token either");
    }

    [Fact(Timeout = 30_000)]
    public async Task Even_at_trace_level_no_request_logs_the_token_from_any_source()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.With("--log-level", "Trace"), ct);
        var token = agent.Token!;

        (await agent.Anonymous.GetAsync($"/files?path=%2F&token={token}", ct)).ShouldHaveStatus(200);
        (await agent.Anonymous.SendAsync(HttpMethod.Get, "/terminals", null, ct, r => r.Headers.Add("Cookie", "session_token=" + token))).ShouldHaveStatus(200);
        (await agent.Client.RunAsync("echo hi", ct)).ExitCode.Should().Be(0);
        (await agent.Anonymous.GetAsync($"/files?path=%2F&token={token}x", ct)).ShouldBeError(401);
        (await agent.Anonymous.GetAsync($"/no/such/route?token={token}", ct)).ShouldBeError(404);
        await agent.StopAsync(ct);

        agent.Stderr.Should().NotContain(token[5..], "tokens from the header, the query or the cookie must never reach the log");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_generated_token_is_reused_on_the_next_start_with_the_same_state_dir()
    {
        var ct = TestContext.Current.CancellationToken;
        var state = Directory.CreateTempSubdirectory("sandboxd-state-").FullName;
        try
        {
            string first;
            await using (var agent = await AgentProcess.StartAsync(new AgentLaunch { PassAccessToken = false, StateDir = state }, ct))
            {
                first = (await File.ReadAllTextAsync(Path.Combine(state, "access-token"), ct)).Trim();
            }

            await using var again = await AgentProcess.StartAsync(new AgentLaunch { PassAccessToken = false, StateDir = state }, ct);
            (await File.ReadAllTextAsync(Path.Combine(state, "access-token"), ct)).Trim().Should().Be(first);
            again.UseToken(first);
            (await again.Client.GetAsync("/files?path=/", ct)).ShouldHaveStatus(200);
            again.Stderr.Should().NotContain(first);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_COMPUTESDK_ACCESS_TOKEN_environment_variable_is_the_access_token()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = "env_" + Guid.NewGuid().ToString("N");
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch
        {
            PassAccessToken = false,
            Environment = new Dictionary<string, string?> { ["COMPUTESDK_ACCESS_TOKEN"] = token },
        }, ct);

        (await agent.Anonymous.GetAsync("/files?path=/", ct)).ShouldBeError(401);
        agent.UseToken(token);
        (await agent.Client.GetAsync("/files?path=/", ct)).ShouldHaveStatus(200);
        File.Exists(Path.Combine(agent.StateDir, "access-token")).Should().BeFalse("a configured token is not replaced by a generated one");
        agent.Stderr.Should().NotContain(token);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_access_token_file_option_reads_the_token_from_the_file()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = "file_" + Guid.NewGuid().ToString("N");
        var file = Path.Combine(Path.GetTempPath(), "sandboxd-token-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(file, token + "\n", ct);
        try
        {
            await using var agent = await AgentProcess.StartAsync(new AgentLaunch
            {
                PassAccessToken = false,
                ExtraArguments = ["--access-token-file", file],
            }, ct);

            (await agent.Anonymous.GetAsync("/files?path=/", ct)).ShouldBeError(401);
            agent.UseToken(token);
            (await agent.Client.GetAsync("/files?path=/", ct)).ShouldHaveStatus(200);
            agent.Stderr.Should().NotContain(token);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task An_empty_access_token_file_is_a_startup_error()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.Combine(Path.GetTempPath(), "sandboxd-token-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(file, "\n", ct);
        try
        {
            var root = Directory.CreateTempSubdirectory("sandboxd-root-").FullName;
            var result = await AgentCli.RunAsync(["start", "--port", "0", "--root", root, "--state-dir", root, "--access-token-file", file], ct);

            result.ExitCode.Should().NotBe(0);
            result.StandardOutput.Should().NotContain("sandboxd ready");
            result.StandardError.Should().Contain(file);
            Directory.Delete(root, recursive: true);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Insecure_no_auth_disables_authentication_and_says_so()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch { PassAccessToken = false, ExtraArguments = ["--insecure-no-auth"] }, ct);

        var info = await agent.Anonymous.GetAsync("/info", ct);
        info.Data.GetProperty("auth_enabled").GetBoolean().Should().BeFalse(info.Describe());
        (await agent.Anonymous.GetAsync("/files?path=/", ct)).ShouldHaveStatus(200);
        var status = await agent.Anonymous.GetAsync("/auth/status", ct);
        status.Data.GetProperty("authenticated").GetBoolean().Should().BeTrue("auth disabled means every caller is authenticated: " + status.Describe());
        await Eventually.UntilAsync(() => agent.Stderr.Contains("insecure-no-auth", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
            "disabling auth must be loud in the log (written by the logger's own thread)", ct);
        File.Exists(Path.Combine(agent.StateDir, "access-token")).Should().BeFalse();
    }
}
