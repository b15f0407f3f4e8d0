using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>
/// The agent does the WebSocket handshake itself (RFC 6455 §4.2, with its own SHA-1: the runtime's is OpenSSL, see
/// Hosting/WithoutOpenSslTests). Checked byte for byte on a raw socket.
/// </summary>
public sealed class HandshakeTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Sends an upgrade request for /ws and returns the response head (up to the blank line) and the open socket.</summary>
    private async Task<(string Head, TcpClient Client)> UpgradeAsync(string version, string key, string target = "/ws?protocol=json")
    {
        var client = new TcpClient();
        await client.ConnectAsync(Agent.BaseUrl.Host, Agent.BaseUrl.Port, Ct);
        var separator = target.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        var request = $"GET {target}{separator}token={Uri.EscapeDataString(Agent.Token!)} HTTP/1.1\r\nHost: {Agent.BaseUrl.Authority}\r\n"
            + $"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {key}\r\n\r\n";
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            (await stream.ReadAsync(one, timeout.Token)).Should().Be(1, "the agent answers with a complete head; got so far: " + Encoding.ASCII.GetString([.. head]));
            head.Add(one[0]);
        }

        return (Encoding.ASCII.GetString([.. head]), client);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_answer_to_the_rfc_6455_example_key_is_the_rfc_accept_value()
    {
        var (head, client) = await UpgradeAsync("13", "dGhlIHNhbXBsZSBub25jZQ==");
        using (client)
        {
            head.Should().StartWith("HTTP/1.1 101 ");
            head.Should().Contain("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
            head.Should().ContainEquivalentOf("\r\nUpgrade: websocket\r\n");
            head.Should().ContainEquivalentOf("\r\nConnection: Upgrade\r\n");

            // The socket speaks WebSocket: a masked ping is answered by a pong with the same payload.
            var stream = client.GetStream();
            byte[] mask = [1, 2, 3, 4];
            var payload = "hi"u8.ToArray();
            byte[] ping = [0x89, (byte)(0x80 | payload.Length), .. mask, .. payload.Select((b, i) => (byte)(b ^ mask[i % 4]))];
            await stream.WriteAsync(ping, Ct);
            var pong = new byte[4];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await stream.ReadExactlyAsync(pong, timeout.Token);
            pong.Should().Equal(0x8A, 2, (byte)'h', (byte)'i');
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Accept_values_match_sha1_for_random_keys()
    {
        for (var i = 0; i < 8; i++)
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
#pragma warning disable CA5350 // the protocol's hash (RFC 6455), computed by the runtime to check the agent's own SHA-1
            var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            var (head, client) = await UpgradeAsync("13", key);
            client.Dispose();
            head.Should().StartWith("HTTP/1.1 101 ").And.Contain($"\r\nSec-WebSocket-Accept: {expected}\r\n", "key {0}", key);
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData("8", "dGhlIHNhbXBsZSBub25jZQ==", 426, "Sec-WebSocket-Version")]
    [InlineData("", "dGhlIHNhbXBsZSBub25jZQ==", 426, "Sec-WebSocket-Version")]
    [InlineData("13", "c2hvcnQ=", 400, "Sec-WebSocket-Key")]
    [InlineData("13", "not base64 at all!!", 400, "Sec-WebSocket-Key")]
    public async Task A_malformed_handshake_gets_a_json_error_and_the_agent_keeps_serving(string version, string key, int status, string named)
    {
        var extra = (version.Length > 0 ? $"Sec-WebSocket-Version: {version}\r\n" : "") + $"Sec-WebSocket-Key: {key}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
        var reply = await RawHttp.SendRawAsync(Agent, "GET", "/ws?protocol=json&token=" + Uri.EscapeDataString(Agent.Token!), extra, [], Ct, withToken: false);

        reply.Status.Should().Be(status, reply.Headers + "\n" + reply.Body);
        using var body = JsonDocument.Parse(reply.Body);
        body.RootElement.GetProperty("error").GetString().Should().Contain(named);
        if (status == 426)
        {
            reply.Headers.Should().Contain("Sec-WebSocket-Version: 13");
        }

        (await Agent.Client.GetAsync("/health", Ct)).Code.Should().Be(200);
    }
}
