using System.Net.Sockets;
using System.Net.WebSockets;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Security;

/// <summary>
/// Connections do not outlive their credentials (issue 13 #5): a WebSocket opened with a session token ends when the
/// token expires, and a connection that never authenticates does not stay open for Kestrel's 10-minute keep-alive.
/// </summary>
public sealed class SocketLifetimeTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_WebSocket_opened_with_a_session_token_ends_when_the_token_expires()
    {
        var created = await Agent.Client.PostJsonAsync("/auth/session_tokens", """{"expiresIn":3}""", Ct);
        var secret = created.Json.GetProperty("token").GetString()!;
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + secret);
        await socket.ConnectAsync(new Uri($"ws://{Agent.BaseUrl.Authority}/ws?protocol=json"), Ct);
        var opened = DateTime.UtcNow;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var buffer = new byte[4096];
        var ended = "open";
        try
        {
            while (ended == "open")
            {
                var result = await socket.ReceiveAsync(buffer, timeout.Token);
                ended = result.MessageType == WebSocketMessageType.Close ? "closed" : ended;
            }
        }
        catch (WebSocketException)
        {
            ended = "aborted";
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            ended = "still open 20 s after the token expired";
        }

        ended.Should().BeOneOf("closed", "aborted");
        (DateTime.UtcNow - opened).Should().BeGreaterThan(TimeSpan.FromSeconds(1), "the socket lives until the token's expiry, not less");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_connection_that_sends_nothing_is_closed_within_the_default_idle_limit()
    {
        using var silent = await RawConnection.OpenAsync(Agent, Ct);

        (await RawConnection.ClosedWithinAsync(silent, TimeSpan.FromSeconds(20), Ct)).Should().BeTrue("an unauthenticated idle connection is closed after 10 s by default");
    }
}
