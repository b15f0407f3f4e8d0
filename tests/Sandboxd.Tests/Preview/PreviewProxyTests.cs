using System.Net;
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
}
