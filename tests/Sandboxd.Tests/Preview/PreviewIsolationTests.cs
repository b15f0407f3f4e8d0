using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Preview;

/// <summary>
/// Previews cannot act as the API (issue 13 #2): a path preview's answers are sandboxed by CSP, no preview sets the
/// agent's cookie, a path preview cannot widen a service worker, the session cookie is refused for API calls that come
/// from a preview page, and a previewed app answers its own OPTIONS and CORS.
/// </summary>
public sealed class PreviewIsolationTests(PreviewAgentFixture fixture) : IClassFixture<PreviewAgentFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string HostileReply =
        "HTTP/1.1 200 OK\r\nSet-Cookie: session_token=planted; Path=/\r\nSet-Cookie: app=1; Path=/\r\nService-Worker-Allowed: /\r\n"
        + "Content-Type: text/html\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    private static string[] Lines(string headers, string name) =>
        [.. headers.Split("\r\n").Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)).Select(l => l[(name.Length + 1)..].Trim())];

    [Fact(Timeout = 60_000)]
    public async Task A_path_preview_is_sandboxed_and_cannot_set_the_agents_cookie_or_widen_a_service_worker()
    {
        await using var upstream = RecordingUpstream.Start(HostileReply);

        var reply = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{upstream.Port}/", "", [], Ct);

        reply.Status.Should().Be(200, reply.Headers);
        Lines(reply.Headers, "Content-Security-Policy").Should().Contain("sandbox allow-scripts allow-forms allow-popups allow-downloads");
        Lines(reply.Headers, "Set-Cookie").Should().Equal(["app=1; Path=/"], "the app's own cookies pass, the agent's never");
        Lines(reply.Headers, "Service-Worker-Allowed").Should().BeEmpty();
    }

    [Fact(Timeout = 60_000)]
    public async Task A_host_preview_cannot_set_the_agents_cookie_either()
    {
        await using var upstream = RecordingUpstream.Start(HostileReply);

        var reply = await RawHttp.SendRawAsync(Agent, "GET", "/", "", [], Ct, hostOverride: $"main-{upstream.Port}.localtest.me");

        reply.Status.Should().Be(200, reply.Headers);
        Lines(reply.Headers, "Set-Cookie").Should().Equal(["app=1; Path=/"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_previewed_app_answers_its_own_OPTIONS_and_CORS()
    {
        await using var upstream = RecordingUpstream.Start("HTTP/1.1 204 No Content\r\nX-App: yes\r\nAllow: GET\r\nConnection: close\r\n\r\n");

        var preflight = await RawHttp.SendRawAsync(Agent, "OPTIONS", $"/preview/{upstream.Port}/api",
            "Origin: https://elsewhere.example\r\nAccess-Control-Request-Method: POST\r\n", [], Ct);

        preflight.Status.Should().Be(204, preflight.Headers);
        Lines(preflight.Headers, "X-App").Should().Equal("yes");
        Lines(preflight.Headers, "Access-Control-Allow-Origin").Should().BeEmpty("the agent grants no CORS on the app's behalf");
        (await upstream.NextHeadAsync(Wait, Ct)).Should().StartWith("OPTIONS /api HTTP/1.1\r\n");

        var get = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{upstream.Port}/api", "Origin: https://elsewhere.example\r\n", [], Ct);
        Lines(get.Headers, "X-App").Should().Equal("yes");
        Lines(get.Headers, "Access-Control-Allow-Origin").Should().BeEmpty();
    }

    [Theory(Timeout = 60_000)]
    [InlineData("Referer: {base}/preview/3000/index.html\r\n")]
    [InlineData("Origin: null\r\n")]
    [InlineData("Sec-Fetch-Site: same-site\r\nSec-Fetch-Mode: cors\r\n")]
    [InlineData("Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n")]
    public async Task The_session_cookie_is_refused_for_API_calls_from_a_preview_page(string headers)
    {
        var created = await Agent.Client.PostJsonAsync("/auth/session_tokens", """{"expiresIn":600}""", Ct);
        var secret = created.Json.GetProperty("token").GetString()!;
        var cookie = $"Cookie: session_token={secret}\r\n";
        var from = headers.Replace("{base}", Agent.BaseUrl.ToString().TrimEnd('/'), StringComparison.Ordinal);

        (await RawHttp.SendRawAsync(Agent, "GET", "/servers", cookie, [], Ct, withToken: false)).Status.Should().Be(200, "the cookie works from the agent's own pages");
        (await RawHttp.SendRawAsync(Agent, "GET", "/servers", cookie + "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n", [], Ct, withToken: false))
            .Status.Should().Be(200);

        var refused = await RawHttp.SendRawAsync(Agent, "GET", "/servers", cookie + from, [], Ct, withToken: false);

        refused.Status.Should().Be(403, refused.Headers + "\n" + refused.Body);
        refused.Body.Should().Contain("session cookie");
    }
}
