using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Run;

/// <summary>An agent whose environment carries its own secrets, under several names.</summary>
public sealed class SecretEnvironmentAgentFixture : AgentFixture
{
    public static readonly string EnvToken = "envsecret_" + Guid.NewGuid().ToString("N");

    protected override AgentLaunch Launch => new()
    {
        Environment = new Dictionary<string, string?>
        {
            ["COMPUTESDK_ACCESS_TOKEN"] = EnvToken,
            ["COMPUTESDK_API_KEY"] = "apikey_" + EnvToken,
            ["UNRELATED_VISIBLE"] = "visible-value",
        },
    };
}

public sealed class SecretScrubbingTests(SecretEnvironmentAgentFixture fixture) : IClassFixture<SecretEnvironmentAgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 30_000)]
    public async Task A_childs_environment_never_contains_the_access_token()
    {
        var result = await Agent.Client.RunAsync("env", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().Contain("UNRELATED_VISIBLE=visible-value", "the rest of the agent's environment is inherited");
        result.Stdout.Should().NotContain(Agent.Token!);
        result.Stdout.Should().NotContain(SecretEnvironmentAgentFixture.EnvToken);
        result.Stdout.Should().NotContain("COMPUTESDK_ACCESS_TOKEN");
        result.Stdout.Should().NotContain("COMPUTESDK_API_KEY");
    }

    [Fact(Timeout = 30_000)]
    public async Task Code_runs_do_not_see_the_access_token_either()
    {
        var response = await Agent.Client.PostJsonAsync("/run/code", """{"language":"sh","code":"env"}""", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        var output = response.Data.GetProperty("output").GetString();
        output.Should().Contain("UNRELATED_VISIBLE=visible-value");
        output.Should().NotContain(Agent.Token!).And.NotContain(SecretEnvironmentAgentFixture.EnvToken).And.NotContain("COMPUTESDK_ACCESS_TOKEN");
    }
}

/// <summary>An agent that carries its token inside an unrelated variable too (e.g. a wrapper exported it).</summary>
public sealed class TokenInOtherVariableAgentFixture : AgentFixture
{
    public static readonly string Token = "wrapped_" + Guid.NewGuid().ToString("N");

    protected override AgentLaunch Launch => new()
    {
        PassAccessToken = false,
        ExtraArguments = ["--access-token", Token],
        Environment = new Dictionary<string, string?> { ["MY_WRAPPER_SECRET"] = "Bearer " + Token },
    };
}

public sealed class SecretInOtherVariableTests(TokenInOtherVariableAgentFixture fixture) : IClassFixture<TokenInOtherVariableAgentFixture>
{
    [Fact(Timeout = 30_000)]
    public async Task A_variable_whose_value_contains_the_token_is_not_passed_to_children()
    {
        var agent = fixture.Agent;
        agent.UseToken(TokenInOtherVariableAgentFixture.Token);

        var result = await agent.Client.RunAsync("env", TestContext.Current.CancellationToken);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().NotContain(TokenInOtherVariableAgentFixture.Token);
    }
}
