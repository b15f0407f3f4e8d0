using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Preview;

public sealed class PreviewAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--preview-url-template", "http://{subdomain}-{port}.localtest.me");
}

public sealed class PreviewProxyTests(PreviewAgentFixture fixture) : IClassFixture<PreviewAgentFixture>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(string Slug, int Port, string Dir)> StartFileServerAsync(bool isPublic)
    {
        var slug = Slug(isPublic ? "pub" : "priv");
        var dir = Path.Combine(Agent.Root, slug);
        Directory.CreateDirectory(dir);
        var body = new JsonObject { ["slug"] = slug, ["start"] = PythonHttp, ["path"] = slug, ["stop_timeout_ms"] = 2000 };
        if (isPublic)
        {
            body["public"] = true;
        }

        await StartAsync(Agent.Client, body, Ct);
        var ready = await WaitForStatusAsync(Agent.Client, slug, "ready", Long, Ct);
        return (slug, ready.GetProperty("port").GetInt32(), dir);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_preview_path_proxies_status_headers_and_a_streamed_body_with_a_token_and_is_401_without()
    {
        var (slug, port, dir) = await StartFileServerAsync(isPublic: false);
        var big = RandomNumberGenerator.GetBytes(5 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(dir, "big.bin"), big, Ct);
        await File.WriteAllTextAsync(Path.Combine(dir, "hello.json"), """{"hi":1}""", Ct);
        try
        {
            var ok = await Agent.Client.GetAsync($"/preview/{port}/hello.json", Ct);
            ok.ShouldHaveStatus(200);
            ok.Text.Should().Be("""{"hi":1}""");
            ok.ContentHeaders.ContentType!.MediaType.Should().Be("application/json");
            ok.ContentHeaders.LastModified.Should().NotBeNull("the upstream's headers are passed through");

            (await Agent.Client.GetAsync($"/preview/{port}/missing.txt", Ct)).ShouldHaveStatus(404);
            (await Agent.Client.PostJsonAsync($"/preview/{port}/hello.json", "{}", Ct)).Code.Should().Be(501, "python's http.server answers POST with 501");

            using (var response = await Agent.Client.Http.GetAsync($"/preview/{port}/big.bin", HttpCompletionOption.ResponseHeadersRead, Ct))
            {
                response.StatusCode.Should().Be(HttpStatusCode.OK);
                var received = await response.Content.ReadAsByteArrayAsync(Ct);
                received.Length.Should().Be(big.Length);
                SHA256.HashData(received).Should().Equal(SHA256.HashData(big));
            }

            var anonymous = await Agent.Anonymous.GetAsync($"/preview/{port}/hello.json", Ct);
            anonymous.ShouldBeError(401);
            (await Agent.Anonymous.GetAsync($"/preview/{port}/hello.json?token={Agent.Token}", Ct)).ShouldHaveStatus(200);
            (await Agent.Anonymous.GetAsync($"/preview/{port}/hello.json?token=wrong", Ct)).ShouldBeError(401);
        }
        finally
        {
            await Agent.Client.DeleteAsync($"/servers/{slug}", Ct);
        }
    }

    /// <summary>The body copy reads into the response pipe in reads of up to 256 KiB: a body longer than one read, without a
    /// Content-Length (chunked, or ended by the upstream closing), and a chunked one in small pieces arrive whole.</summary>
    [Theory(Timeout = 60_000)]
    [InlineData("close-delimited")]
    [InlineData("chunked")]
    [InlineData("small-chunks")]
    public async Task A_body_without_a_content_length_comes_through_whole(string framing)
    {
        var text = string.Concat(Enumerable.Range(0, 30_000).Select(i => $"line {i:D5}\n")); // 330,000 bytes
        var reply = framing switch
        {
            "close-delimited" => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + text,
            "chunked" => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + Encoding.ASCII.GetString(RawHttp.Chunked(Encoding.ASCII.GetBytes(text), 100_000)),
            _ => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + Encoding.ASCII.GetString(RawHttp.Chunked(Encoding.ASCII.GetBytes(text[..1000]), 7)),
        };
        var expected = framing == "small-chunks" ? text[..1000] : text;
        await using var upstream = RecordingUpstream.Start(reply);

        var proxied = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{upstream.Port}/stream", "", [], Ct);

        proxied.Status.Should().Be(200, proxied.Headers);
        proxied.Body.Length.Should().Be(expected.Length);
        proxied.Body.Should().Be(expected);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_server_started_public_is_reachable_through_the_preview_without_a_token()
    {
        var (slug, port, dir) = await StartFileServerAsync(isPublic: true);
        await File.WriteAllTextAsync(Path.Combine(dir, "index.txt"), "public hello", Ct);
        try
        {
            var response = await Agent.Anonymous.GetAsync($"/preview/{port}/index.txt", Ct);
            response.ShouldHaveStatus(200);
            response.Text.Should().Be("public hello");
        }
        finally
        {
            await Agent.Client.DeleteAsync($"/servers/{slug}", Ct);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_host_matching_the_preview_template_is_routed_to_that_port()
    {
        var (slug, port, dir) = await StartFileServerAsync(isPublic: false);
        await File.WriteAllTextAsync(Path.Combine(dir, "host.txt"), "by host", Ct);
        try
        {
            var info = await GetAsync(Agent.Client, slug, Ct);
            info.GetProperty("url").GetString().Should().EndWith($"-{port}.localtest.me");

            var response = await Agent.Client.SendAsync(HttpMethod.Get, "/host.txt", null, Ct, r => r.Headers.Host = $"main-{port}.localtest.me");
            response.ShouldHaveStatus(200);
            response.Text.Should().Be("by host");
            (await Agent.Anonymous.SendAsync(HttpMethod.Get, "/host.txt", null, Ct, r => r.Headers.Host = $"main-{port}.localtest.me"))
                .ShouldBeError(401);
        }
        finally
        {
            await Agent.Client.DeleteAsync($"/servers/{slug}", Ct);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_WebSocket_goes_through_the_preview_proxy_both_ways()
    {
        // The upstream is a second agent (no auth) on its own port: its /ws is a real WebSocket server.
        await using var upstream = await AgentProcess.StartAsync(
            new AgentLaunch { PassAccessToken = false, ExtraArguments = ["--insecure-no-auth"] }, Ct);
        var terminal = await upstream.Anonymous.PostJsonAsync("/terminals", """{"pty":true}""", Ct);
        terminal.Code.Should().BeOneOf([200, 201], terminal.Describe());
        var terminalId = terminal.Data.GetProperty("id").GetString()!;

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + Agent.Token);
        var target = new Uri($"ws://{Agent.BaseUrl.Authority}/preview/{upstream.BaseUrl.Port}/ws?protocol=json");
        await socket.ConnectAsync(target, Ct);

        await SendAsync(socket, $$"""{"type":"subscribe","channel":"terminal:{{terminalId}}"}""");
        await SendAsync(socket, $$$"""{"type":"terminal:input","data":{"terminal_id":"{{{terminalId}}}","input":"echo via-$((40+2))-proxy\n"}}""");

        var seen = new StringBuilder();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        while (!seen.ToString().Contains("via-42-proxy"))
        {
            WebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                throw new InvalidOperationException(
                    $"The proxied WebSocket failed after receiving '{seen}': {e.Message}\n--- proxy agent ---\n{Agent.StderrTail()}\n--- upstream agent ---\n{upstream.StderrTail()}", e);
            }


            result.MessageType.Should().NotBe(WebSocketMessageType.Close, "the proxied socket stays open; so far: " + seen);
            seen.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }

        // A close from the browser side must travel upstream and the upstream's close reply must come back.
        var close = async () => await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        await close.Should().NotThrowAsync("the proxy relays the close handshake in both directions");
        socket.CloseStatus.Should().Be(WebSocketCloseStatus.NormalClosure);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_WebSocket_upgrade_through_the_preview_needs_a_token()
    {
        using var socket = new ClientWebSocket();
        var target = new Uri($"ws://{Agent.BaseUrl.Authority}/preview/{Agent.BaseUrl.Port}/ws?protocol=json");
        var connect = async () => await socket.ConnectAsync(target, Ct);
        await connect.Should().ThrowAsync<WebSocketException>();
    }

    private static Task SendAsync(ClientWebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, Ct);

    /// <summary>A hand-made upstream on a raw socket: accepts one connection and hands its request head to <paramref name="serve"/>.</summary>
    private static (int Port, Task<string> Head) RawUpstream(Func<NetworkStream, string, Task> serve)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var head = Task.Run(async () =>
        {
            try
            {
                using var client = await listener.AcceptTcpClientAsync(Ct);
                var stream = client.GetStream();
                var bytes = new List<byte>();
                var one = new byte[1];
                while (!(bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n') && await stream.ReadAsync(one, Ct) == 1)
                {
                    bytes.Add(one[0]);
                }

                var text = Encoding.ASCII.GetString([.. bytes]);
                await serve(stream, text);
                return text;
            }
            finally
            {
                listener.Stop();
            }
        });
        return (port, head);
    }

    private static string HeaderValue(string head, string name) =>
        head.Split("\r\n").First(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))[(name.Length + 1)..].Trim();

    [Fact(Timeout = 60_000)]
    public async Task A_websocket_upgrade_is_tunnelled_with_its_handshake_and_the_bytes_that_follow_the_101()
    {
        var (port, upstreamHead) = RawUpstream(async (stream, head) =>
        {
#pragma warning disable CA5350 // RFC 6455's accept hash
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(HeaderValue(head, "Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            var answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + $"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat.v2\r\nX-Upstream: raw\r\n\r\n";
            // A text frame in the same write as the 101: the proxy must pass on what it read past the head.
            await stream.WriteAsync((byte[])[.. Encoding.ASCII.GetBytes(answer), 0x81, 5, .. "early"u8], Ct);

            // Echo one masked client frame back as "echo:<payload>".
            var frame = new byte[2];
            await stream.ReadExactlyAsync(frame, Ct);
            var length = frame[1] & 0x7F;
            var mask = new byte[4];
            await stream.ReadExactlyAsync(mask, Ct);
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, Ct);
            byte[] echo = [.. "echo:"u8, .. payload.Select((b, i) => (byte)(b ^ mask[i % 4]))];
            await stream.WriteAsync((byte[])[0x81, (byte)echo.Length, .. echo], Ct);
            await stream.WriteAsync(new byte[] { 0x88, 2, 0x03, 0xE8 }, Ct); // close 1000
            var rest = new byte[256];
            while (await stream.ReadAsync(rest, Ct) > 0)
            {
                // until the client's close travels through and the proxy closes the connection
            }
        });

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + Agent.Token);
        socket.Options.SetRequestHeader("Cookie", "session_token=agent-secret; theme=dark");
        socket.Options.AddSubProtocol("chat.v1");
        socket.Options.AddSubProtocol("chat.v2");
        socket.Options.CollectHttpResponseDetails = true;
        await socket.ConnectAsync(new Uri($"ws://{Agent.BaseUrl.Authority}/preview/{port}/chat?room=1"), Ct);
        socket.SubProtocol.Should().Be("chat.v2");
        socket.HttpResponseHeaders!["X-Upstream"].Should().Equal("raw");

        var buffer = new byte[1024];
        var early = await socket.ReceiveAsync(buffer, Ct);
        Encoding.UTF8.GetString(buffer, 0, early.Count).Should().Be("early");
        await socket.SendAsync("ping-1"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        var echoed = await socket.ReceiveAsync(buffer, Ct);
        Encoding.UTF8.GetString(buffer, 0, echoed.Count).Should().Be("echo:ping-1");
        var closed = await socket.ReceiveAsync(buffer, Ct);
        closed.MessageType.Should().Be(WebSocketMessageType.Close);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, Ct);

        var head = await upstreamHead.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        head.Should().StartWith("GET /chat?room=1 HTTP/1.1\r\n");
        HeaderValue(head, "Sec-WebSocket-Protocol").Should().Be("chat.v1, chat.v2");
        HeaderValue(head, "Sec-WebSocket-Version").Should().Be("13");
        HeaderValue(head, "Cookie").Should().Be("theme=dark", "the agent's session cookie is not forwarded");
        HeaderValue(head, "Upgrade").Should().Be("websocket");
        HeaderValue(head, "X-Forwarded-Host").Should().Be(Agent.BaseUrl.Authority);
        head.Should().NotContainEquivalentOf("Authorization:").And.NotContain("agent-secret");
    }

    [Fact(Timeout = 60_000)]
    public async Task An_upstream_that_refuses_the_upgrade_is_answered_with_its_own_status_and_body()
    {
        var (port, upstreamHead) = RawUpstream((stream, _) =>
            stream.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nnope!!"u8.ToArray(), Ct).AsTask());

        var reply = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{port}/socket",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", [], Ct);

        reply.Status.Should().Be(403, reply.Headers);
        reply.Body.Should().Be("nope!!");
        reply.Headers.Should().Contain("Content-Type: text/plain");
        (await upstreamHead.WaitAsync(TimeSpan.FromSeconds(20), Ct)).Should().StartWith("GET /socket HTTP/1.1\r\n");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_websocket_upgrade_to_a_port_nobody_listens_on_is_a_502_json_error()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var reply = await RawHttp.SendRawAsync(Agent, "GET", $"/preview/{port}/",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", [], Ct);

        reply.Status.Should().Be(502, reply.Headers);
        using var body = JsonDocument.Parse(reply.Body);
        body.RootElement.GetProperty("error").GetString().Should().Contain($"port {port}");
    }
}
