using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

public sealed class RoutingTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_route_answers_404_json()
    {
        var response = await Agent.Client.GetAsync("/no/such/route", TestContext.Current.CancellationToken);

        response.ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_wrong_method_on_a_known_route_answers_405_json()
    {
        var response = await Agent.Client.SendAsync(HttpMethod.Put, "/run/command", """{"command":"true"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(405);
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_on_a_post_only_route_answers_405_json()
    {
        var response = await Agent.Client.GetAsync("/run/code", TestContext.Current.CancellationToken);

        response.ShouldBeError(405);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_cors_preflight_on_any_path_answers_204_with_the_allow_headers()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Options, "/run/command", null, TestContext.Current.CancellationToken, r =>
        {
            r.Headers.Add("Origin", "http://example.test");
            r.Headers.Add("Access-Control-Request-Method", "POST");
            r.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");
        });

        response.ShouldHaveStatus(204);
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().ContainSingle().Which.Should().Be("http://example.test");
        var methods = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods"));
        foreach (var method in new[] { "GET", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS" })
        {
            methods.Should().Contain(method);
        }

        var headers = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers"));
        headers.Should().ContainEquivalentOf("Authorization").And.ContainEquivalentOf("Content-Type").And.ContainEquivalentOf("X-Request-Timeout");
        response.Text.Should().BeEmpty();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_preflight_without_origin_still_answers_204_with_a_wildcard_origin()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Options, "/whatever/path", null, TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(204);
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().ContainSingle().Which.Should().Be("*");
    }

    [Fact(Timeout = 30_000)]
    public async Task Normal_responses_carry_the_allow_origin_header()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/health", null, TestContext.Current.CancellationToken,
            r => r.Headers.Add("Origin", "http://page.test"));

        response.ShouldHaveStatus(200);
        response.Headers.GetValues("Access-Control-Allow-Origin").Should().Contain("http://page.test");
    }

    [Fact(Timeout = 30_000)]
    public async Task Error_responses_also_carry_the_allow_origin_header_so_browsers_can_read_them()
    {
        var ct = TestContext.Current.CancellationToken;

        var unauthorized = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/files?path=/", null, ct, r => r.Headers.Add("Origin", "http://page.test"));
        var notFound = await Agent.Client.SendAsync(HttpMethod.Get, "/nope", null, ct, r => r.Headers.Add("Origin", "http://page.test"));

        unauthorized.ShouldBeError(401);
        unauthorized.Headers.GetValues("Access-Control-Allow-Origin").Should().Contain("http://page.test");
        notFound.ShouldBeError(404);
        notFound.Headers.GetValues("Access-Control-Allow-Origin").Should().Contain("http://page.test");
    }
}
