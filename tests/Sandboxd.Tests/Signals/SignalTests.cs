using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Signals;

/// <summary>The signals channel (http §10): port detection of real listeners, emit routes, start/stop.</summary>
public sealed class SignalTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => fixture.Client;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<LiveSocket> StartAsync(CancellationToken ct)
    {
        var socket = await LiveSocket.ConnectAsync(Agent, ct);
        var start = await Client.PostJsonAsync("/signals/start", "{}", ct);
        start.ShouldHaveStatus(200);
        start.Data.GetProperty("status").GetString().Should().Be("active");
        start.Data.GetProperty("channel").GetString().Should().Be("signals");
        await socket.SubscribeAsync("signals", ct);
        return socket;
    }

    private static Func<LiveFrame, bool> Port(int port, string type) =>
        f => f.Is("signal", "signals") && f.Str("signal") == "port" && f.Num("port") == port && f.Str("type") == type;

    [Fact(Timeout = 60_000)]
    public async Task A_background_http_server_is_announced_as_port_open_and_its_death_as_port_close()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var socket = await StartAsync(ct);
        var port = FreePort();

        var started = await Client.RunAsync(new Sandboxd.Protocol.RunCommandRequest($"/usr/bin/python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $!"), ct);
        var pid = int.Parse(started.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            var clock = Stopwatch.StartNew();
            var open = await socket.WaitForAsync(Port(port, "open"), TimeSpan.FromSeconds(20), $"port {port} open", ct);
            open.Str("address").Should().Be("127.0.0.1");
            open.Str("url").Should().NotBeNullOrEmpty().And.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            open.Binary.Should().BeFalse();
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(20));

            Posix.Kill(pid, Posix.SIGKILL).Should().BeTrue();
            await socket.WaitForAsync(Port(port, "close"), TimeSpan.FromSeconds(20), $"port {port} close", ct);
        }
        finally
        {
            Posix.Kill(pid, Posix.SIGKILL);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_emit_routes_publish_on_the_signals_channel_while_active()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var socket = await StartAsync(ct);

        var port = await Client.PostJsonAsync("/signals/port", """{"port":4321,"type":"open","url":"http://example.test:4321"}""", ct);
        port.ShouldHaveStatus(200);
        port.Data.GetProperty("port").GetInt32().Should().Be(4321);
        var byPath = await Client.PostJsonAsync("/signals/port/4322/close", null!, ct);
        byPath.ShouldHaveStatus(200);
        byPath.Data.GetProperty("type").GetString().Should().Be("close");
        (await Client.PostJsonAsync("/signals/error", """{"message":"boom happened"}""", ct)).ShouldHaveStatus(200);
        var ready = await Client.PostJsonAsync("/signals/server-ready", """{"port":4323,"url":"http://example.test:4323"}""", ct);
        ready.ShouldHaveStatus(200);

        var p = await socket.WaitForAsync(Port(4321, "open"), Quick, "signal port 4321 open", ct);
        p.Str("url").Should().Be("http://example.test:4321");
        await socket.WaitForAsync(Port(4322, "close"), Quick, "signal port 4322 close", ct);
        await socket.WaitForAsync(f => f.Is("signal", "signals") && f.Str("signal") == "error" && f.Str("message") == "boom happened", Quick, "error signal", ct);
        var r = await socket.WaitForAsync(f => f.Is("signal", "signals") && f.Str("signal") == "server-ready" && f.Num("port") == 4323, Quick, "server-ready", ct);
        r.Str("url").Should().Be("http://example.test:4323");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/signals/port", """{"port":4321,"type":"sideways","url":"http://x"}""")]
    [InlineData("/signals/port", """{"port":"abc","type":"open","url":"http://x"}""")]
    [InlineData("/signals/port/abc/open", null)]
    [InlineData("/signals/port/4321/sideways", null)]
    public async Task An_invalid_type_or_port_is_a_400(string path, string? body)
    {
        var response = await Client.SendAsync(HttpMethod.Post, path, body, TestContext.Current.CancellationToken);

        response.ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_reports_stopped_and_later_emits_are_accepted_but_not_published()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var socket = await StartAsync(ct);

        var stop = await Client.PostJsonAsync("/signals/stop", "{}", ct);
        stop.ShouldHaveStatus(200);
        stop.Data.GetProperty("status").GetString().Should().Be("stopped");
        var status = await Client.GetAsync("/signals/status", ct);
        status.Data.GetProperty("status").GetString().Should().Be("stopped");

        (await Client.PostJsonAsync("/signals/error", """{"message":"after-stop"}""", ct)).ShouldHaveStatus(200);
        await Client.PostJsonAsync("/signals/start", "{}", ct);
        (await Client.PostJsonAsync("/signals/error", """{"message":"after-restart"}""", ct)).ShouldHaveStatus(200);
        await socket.WaitForAsync(f => f.Is("signal", "signals") && f.Str("message") == "after-restart", Quick, "the signal after restart", ct);
        socket.Frames.Should().NotContain(f => f.Str("message") == "after-stop");
    }
}
