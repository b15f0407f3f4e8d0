using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>The /ws upgrade is authenticated by the <c>token</c> query parameter, before the upgrade (§1).</summary>
public sealed class WsAuthTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private const string UpgradeHeaders =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    [Theory(Timeout = 60_000)]
    [InlineData("/ws?protocol=binary")]
    [InlineData("/ws?token=wrong-token&protocol=binary")]
    [InlineData("/ws?token=&protocol=json")]
    public async Task An_upgrade_without_a_valid_token_gets_a_plain_401_json_answer(string target)
    {
        var reply = await RawHttp.SendRawAsync(Agent, "GET", target, UpgradeHeaders, [], TestContext.Current.CancellationToken, withToken: false);

        reply.Status.Should().Be(401, reply.Headers + "\n" + reply.Body);
        reply.Headers.Should().Contain("application/json");
        using var body = JsonDocument.Parse(reply.Body);
        body.RootElement.GetProperty("status").GetString().Should().Be("error");
        body.RootElement.GetProperty("error").GetString().Should().NotBeNullOrWhiteSpace();
    }

    [Theory(Timeout = 60_000)]
    [InlineData(null)]
    [InlineData("wrong-token")]
    public async Task A_client_websocket_without_a_valid_token_is_refused_with_401(string? token)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        var connect = () => socket.ConnectAsync(LiveSocket.Url(Agent, "binary", token), TestContext.Current.CancellationToken);

        await connect.Should().ThrowAsync<WebSocketException>();
        socket.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_token_in_the_query_opens_a_working_socket_without_any_header_or_subprotocol()
    {
        var ct = TestContext.Current.CancellationToken;
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        await socket.ConnectAsync(LiveSocket.Url(Agent, "json", Agent.Token), ct);

        socket.HttpStatusCode.Should().Be(HttpStatusCode.SwitchingProtocols);
        socket.SubProtocol.Should().BeNullOrEmpty();
        socket.State.Should().Be(WebSocketState.Open);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Several_sockets_with_the_same_token_are_allowed_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var sockets = new List<LiveSocket>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                sockets.Add(await LiveSocket.ConnectAsync(Agent, ct, i % 2 == 0 ? "json" : "binary"));
            }

            var (cmdId, channel) = await LiveApi.PendingCommandAsync(fixture.Client, "echo many", ct);
            foreach (var s in sockets)
            {
                await s.SubscribeAsync(channel, ct);
            }

            await sockets[^1].StartCommandAsync(cmdId, ct);
            foreach (var s in sockets)
            {
                await s.WaitForAsync("command:exit", channel, LiveApi.Quick, ct);
                s.Output("command:stdout", channel).Should().Be("many\n");
            }
        }
        finally
        {
            foreach (var s in sockets)
            {
                await s.DisposeAsync();
            }
        }
    }
}
