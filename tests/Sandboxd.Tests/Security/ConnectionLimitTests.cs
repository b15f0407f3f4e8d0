using System.Net.Sockets;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Security;

public sealed class TightConnectionLimitsFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--max-unauthenticated-connections", "3", "--unauthenticated-idle", "2");
}

/// <summary>Clients without a credential hold at most a few connections, and only briefly when idle (issue 13 #5).</summary>
public sealed class ConnectionLimitTests(TightConnectionLimitsFixture fixture) : IClassFixture<TightConnectionLimitsFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_connection_that_never_authenticates_is_closed_when_idle_and_an_authenticated_one_is_not()
    {
        using var silent = await RawConnection.OpenAsync(Agent, Ct);
        using var anonymous = await RawConnection.OpenAsync(Agent, Ct);
        using var authenticated = await RawConnection.OpenAsync(Agent, Ct);
        await SendAsync(anonymous, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        await SendAsync(authenticated, $"GET /servers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Agent.Token}\r\n\r\n");
        await ReadReplyAsync(anonymous);
        await ReadReplyAsync(authenticated);

        (await RawConnection.ClosedWithinAsync(silent, TimeSpan.FromSeconds(15), Ct)).Should().BeTrue("a connection that sends nothing is closed after --unauthenticated-idle");
        (await RawConnection.ClosedWithinAsync(anonymous, TimeSpan.FromSeconds(5), Ct)).Should().BeTrue("so is one that made only unauthenticated requests");
        (await RawConnection.ClosedWithinAsync(authenticated, TimeSpan.FromSeconds(3), Ct)).Should().BeFalse("a connection that authenticated keeps the normal keep-alive");
    }

    [Fact(Timeout = 60_000)]
    public async Task Unauthenticated_connections_beyond_the_limit_are_closed_at_once()
    {
        // The limit is 3 (fixture); the other tests of this class run one at a time and close theirs.
        var held = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                held.Add(await RawConnection.OpenAsync(Agent, Ct));
            }

            // The agent closes the fourth at once; on loopback the reset can even reach the client's connect.
            bool refused;
            try
            {
                using var extra = await RawConnection.OpenAsync(Agent, Ct);
                refused = await RawConnection.ClosedWithinAsync(extra, TimeSpan.FromSeconds(1.5), Ct);
            }
            catch (SocketException)
            {
                refused = true;
            }

            refused.Should().BeTrue("the fourth unauthenticated connection is over the limit");
        }
        finally
        {
            held.ForEach(c => c.Dispose());
        }

        // Once the held connections are gone their slots are free again for anyone, a client with a token included.
        using var fresh = new HttpClient { BaseAddress = Agent.BaseUrl };
        fresh.DefaultRequestHeaders.Authorization = new("Bearer", Agent.Token);
        var status = await Eventually.UntilAsync(async () =>
        {
            try
            {
                return (int)(await fresh.GetAsync("/servers", Ct)).StatusCode;
            }
            catch (HttpRequestException)
            {
                return 0;
            }
        }, code => code == 200, TimeSpan.FromSeconds(10), "a new connection once the slots are free", Ct);
        status.Should().Be(200);
    }

    private static Task SendAsync(TcpClient client, string text) => client.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(text), Ct).AsTask();

    /// <summary>Reads one small reply (head and a short body) without waiting for the connection to close.</summary>
    private static async Task ReadReplyAsync(TcpClient client)
    {
        var buffer = new byte[8192];
        var read = await client.GetStream().ReadAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        read.Should().BeGreaterThan(0);
    }
}
