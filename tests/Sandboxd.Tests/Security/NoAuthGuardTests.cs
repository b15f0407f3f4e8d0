using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Security;

public sealed class NoAuthAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => new() { PassAccessToken = false, ExtraArguments = ["--insecure-no-auth"] };
}

/// <summary>
/// An agent started with <c>--insecure-no-auth</c> still refuses what only a web page sends (issue 13 #9): a foreign
/// Origin (a cross-site POST) and a Host that is not one of its names (DNS rebinding).
/// </summary>
public sealed class NoAuthGuardTests(NoAuthAgentFixture fixture) : IClassFixture<NoAuthAgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Command = """{"command":"echo hi"}""";

    [Theory(Timeout = 30_000)]
    [InlineData("https://evil.example")]
    [InlineData("http://evil.example:80")]
    [InlineData("null")]
    public async Task A_cross_site_post_is_refused(string origin)
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Post, "/run/command", Command, Ct, r => r.Headers.Add("Origin", origin));

        response.ShouldBeError(403).Should().Contain("Origin");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("evil.example")]
    [InlineData("evil.example:{port}")]
    [InlineData("127.0.0.1.nip.io:{port}")]
    [InlineData("10.11.12.13:{port}")]
    public async Task A_request_for_a_host_that_is_not_the_agents_is_refused(string host)
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/servers", null, Ct,
            r => r.Headers.Host = host.Replace("{port}", Agent.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

        response.ShouldBeError(403).Should().Contain("Host");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("127.0.0.1:{port}", null)]
    [InlineData("localhost:{port}", null)]
    [InlineData("localhost:{port}", "http://localhost:{port}")]
    [InlineData("127.0.0.1:{port}", "http://127.0.0.1:{port}")]
    public async Task The_agents_own_host_and_origin_are_served(string host, string? origin)
    {
        var port = Agent.BaseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Post, "/run/command", Command, Ct, r =>
        {
            r.Headers.Host = host.Replace("{port}", port, StringComparison.Ordinal);
            if (origin is not null)
            {
                r.Headers.Add("Origin", origin.Replace("{port}", port, StringComparison.Ordinal));
            }
        });

        response.ShouldHaveStatus(200);
    }
}
