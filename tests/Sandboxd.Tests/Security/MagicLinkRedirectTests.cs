using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Security;

/// <summary>
/// Magic-link redirects stay on the agent or an allowed origin however they are spelled (issue 13 #4): browsers drop
/// tabs and line breaks and read "\" as "/", so <c>"/\t/evil.com/x"</c> is <c>//evil.com/x</c> to them.
/// </summary>
public sealed class MagicLinkRedirectTests(MagicLinkAgentFixture fixture) : IClassFixture<MagicLinkAgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<ApiResponse> CreateAsync(string redirect) =>
        Agent.Client.PostJsonAsync("/auth/magic-links", new JsonObject { ["redirectUrl"] = redirect }.ToJsonString(), Ct);

    [Theory(Timeout = 30_000)]
    [InlineData("/\t/evil.com/x")]
    [InlineData("/\r/evil.com/x")]
    [InlineData("/\n/evil.com/x")]
    [InlineData("/\\evil.com/x")]
    [InlineData("/\\/evil.com/x")]
    [InlineData("/x\\y")]
    [InlineData("/ /evil.com")]
    [InlineData("/\u00a0/evil.com")]
    [InlineData("/\u0000/evil.com")]
    [InlineData("\t//evil.com/x")]
    [InlineData("/%09/evil.com/x")]
    [InlineData("/%0D/evil.com/x")]
    [InlineData("/%0a/evil.com/x")]
    [InlineData("/%5C/evil.com/x")]
    [InlineData("/%5cevil.com")]
    [InlineData("/%20/evil.com")]
    [InlineData("/%2509/evil.com")]
    [InlineData("https://allowed.example\\@evil.com/")]
    [InlineData("https://allowed.example\t/")]
    [InlineData("https://evil.com/")]
    [InlineData("//evil.com/x")]
    [InlineData("javascript:alert(1)")]
    public async Task A_redirect_that_a_browser_could_resolve_elsewhere_is_refused(string redirect)
    {
        var response = await CreateAsync(redirect);

        response.ShouldBeError(400);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/play/")]
    [InlineData("/play/?x=1&y=%2F")]
    [InlineData("/a/b%2Fc")]
    [InlineData("https://allowed.example/app")]
    [InlineData("{base}/play/")]
    public async Task A_path_on_the_agent_or_an_allowed_origin_is_accepted(string redirect)
    {
        var response = await CreateAsync(redirect.Replace("{base}", Agent.BaseUrl.ToString().TrimEnd('/'), StringComparison.Ordinal));

        response.Code.Should().Be(201, response.Describe());
    }
}
