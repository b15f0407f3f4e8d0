using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Preview;

/// <summary>
/// The preview proxy forwards the client's raw target minus <c>/preview/&lt;port&gt;</c>, never the decoded path
/// (issue 13 #3): encoded <c>#</c>, <c>?</c>, <c>/</c> and spaces reach the app as sent, the agent's credential
/// parameters do not, and a line break in the path is a 400 before anything is sent upstream — on both branches.
/// </summary>
public sealed class PreviewTargetTests(PreviewAgentFixture fixture) : IClassFixture<PreviewAgentFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string UpgradeHeaders =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    [Theory(Timeout = 60_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_app_gets_the_raw_target_without_the_prefix_or_the_agents_parameters(bool upgrade)
    {
        await using var upstream = RecordingUpstream.Start();
        var target = $"/preview/{upstream.Port}/a%23b%3Fc/d%2Fe%20f?x=%23y&token=whatever&session_token=sst_x&sandbox_url=http%3A%2F%2Fa&keep=1";

        var reply = await RawHttp.SendRawAsync(Agent, "GET", target, upgrade ? UpgradeHeaders : "", [], Ct);

        reply.Status.Should().Be(200, reply.Headers + "\n" + reply.Body);
        reply.Body.Should().Be("ok");
        var head = await upstream.NextHeadAsync(Wait, Ct);
        head.Split("\r\n")[0].Should().Be("GET /a%23b%3Fc/d%2Fe%20f?x=%23y&keep=1 HTTP/1.1");
    }

    [Theory(Timeout = 60_000)]
    [InlineData(false, "/a%0D%0AX-Injected:%201")]
    [InlineData(true, "/a%0D%0AX-Injected:%201")]
    [InlineData(false, "/a%0Ab")]
    [InlineData(true, "/a%0Db")]
    public async Task A_line_break_in_a_preview_path_is_a_400_and_nothing_reaches_the_app(bool upgrade, string path)
    {
        await using var upstream = RecordingUpstream.Start();

        var reply = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{upstream.Port}{path}?q=1", upgrade ? UpgradeHeaders : "", [], Ct);

        reply.Status.Should().Be(400, reply.Headers + "\n" + reply.Body);
        using (var body = JsonDocument.Parse(reply.Body))
        {
            body.RootElement.GetProperty("error").GetString().Should().Contain("preview path");
        }

        upstream.Received.Should().Be(0, "the request is refused before the agent connects upstream");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_preview_prefix_reached_through_dot_segments_is_refused()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var other = RecordingUpstream.Start();

        // Decoded, this is /preview/<other>/x; raw, it starts with /preview/<upstream>: the two must not disagree.
        var reply = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{upstream.Port}/../{other.Port}/x", "", [], Ct);

        reply.Status.Should().Be(400, reply.Headers + "\n" + reply.Body);
        (upstream.Received + other.Received).Should().Be(0);
    }
}
