using System.Net;
using System.Security.Cryptography;

namespace Sandboxd.Client.Tests;

public sealed class ServerTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    private const string NodeServer =
        "node -e \"require('http').createServer((q,s)=>s.end('pong')).listen(+process.env.PORT,'127.0.0.1',()=>console.log('listening'))\"";

    [Fact(Timeout = 180_000)]
    public async Task A_server_goes_through_start_ready_logs_status_restart_stop_and_delete()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("server");
        var slug = "web-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        await using var client = _agent.Client();

        var started = await client.Servers.StartAsync(new StartServerRequest(slug, NodeServer, Path: dir, Autostart: false), ct);
        var ready = await Eventually.UntilAsync(() => client.Servers.GetAsync(slug, ct), s => s.Status == "ready" && s.Port is not null,
            TimeSpan.FromSeconds(60), $"server {slug} to be ready", ct);
        using var http = new HttpClient();
        var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{ready.Port}/"), ct);
        var logs = await Eventually.UntilAsync(() => client.Servers.LogsAsync(slug, "stdout", ct), l => l.Logs.Contains("listening", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the server's log line", ct);

        started.Slug.Should().Be(slug);
        started.Status.Should().BeOneOf("installing", "starting", "running");
        body.Should().Be("pong");
        logs.Stream.Should().Be("stdout");
        (await client.Servers.ListAsync(ct)).Select(s => s.Slug).Should().Contain(slug);

        var patched = await client.Servers.UpdateStatusAsync(slug, "running", ct);
        patched.Status.Should().Be("running");

        var restarted = await client.Servers.RestartAsync(slug, ct);
        restarted.Slug.Should().Be(slug);
        await Eventually.UntilAsync(() => client.Servers.GetAsync(slug, ct), s => s.Status == "ready", TimeSpan.FromSeconds(60), "ready after restart", ct);

        await client.Servers.StopAsync(slug, ct);
        (await client.Servers.GetAsync(slug, ct)).Status.Should().Be("stopped");

        await client.Servers.DeleteAsync(slug, ct);
        var gone = () => client.Servers.GetAsync(slug, ct);
        (await gone.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
