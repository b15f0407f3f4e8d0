using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Servers;

/// <summary>
/// The health check is a raw-socket <c>GET</c> read up to its status line (ADR 0019): what the server receives, and
/// answers that are not a passing HTTP status, checked against real servers (a Python socket server that records the
/// request and answers what it is told).
/// </summary>
public sealed class HealthProbeTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private AgentClient Client => fixture.Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Accepts on $PORT, appends each request's head to requests.txt, answers <paramref name="answer"/> and closes.</summary>
    private static string RawServer(string answer) =>
        "exec /usr/bin/python3 -c 'import socket,os\n" +
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind((\"127.0.0.1\",int(os.environ[\"PORT\"]))); s.listen(16)\n" +
        "while True:\n" +
        "  c,_=s.accept(); d=b\"\"\n" +
        "  while b\"\\r\\n\\r\\n\" not in d:\n" +
        "    r=c.recv(4096)\n" +
        "    if not r: break\n" +
        "    d+=r\n" +
        "  open(\"requests.txt\",\"ab\").write(d)\n" +
        "  c.sendall(" + answer + "); c.close()'";

    [Fact(Timeout = 60_000)]
    public async Task The_check_sends_one_GET_of_the_path_and_query_with_connection_close_and_a_200_makes_the_server_ready()
    {
        var slug = Slug("probe-ok");
        var dir = Path.Combine(fixture.Agent.Root, slug);
        Directory.CreateDirectory(dir);
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["path"] = dir, ["stop_timeout_ms"] = 2000,
            ["start"] = RawServer("b\"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok\""),
            ["health_check"] = new JsonObject { ["path"] = "/healthz?deep=1", ["interval_ms"] = 200, ["timeout_ms"] = 1000, ["delay_ms"] = 0 },
        }, Ct);

        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        ready.GetProperty("healthy").GetBoolean().Should().BeTrue();
        var port = ready.GetProperty("port").GetInt32();
        var head = (await File.ReadAllTextAsync(Path.Combine(dir, "requests.txt"), Ct)).Split("\r\n\r\n")[0].Split("\r\n");
        head[0].Should().Be("GET /healthz?deep=1 HTTP/1.1");
        head.Should().Contain($"Host: 127.0.0.1:{port}").And.Contain("Connection: close");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("b\"garbage\\r\\n\"")] // not HTTP
    [InlineData("b\"\"")] // closes without a word
    [InlineData("b\"HTTP/1.1 2x0 OK\\r\\n\\r\\n\"")] // no valid status code
    [InlineData("b\"HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n\"")]
    public async Task An_answer_that_is_not_a_passing_HTTP_status_fails_the_check_and_the_server_is_not_ready(string answer)
    {
        var slug = Slug("probe-bad");
        var dir = Path.Combine(fixture.Agent.Root, slug);
        Directory.CreateDirectory(dir);
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["path"] = dir, ["stop_timeout_ms"] = 2000, ["start"] = RawServer(answer),
            ["health_check"] = new JsonObject { ["path"] = "/", ["interval_ms"] = 150, ["timeout_ms"] = 1000, ["delay_ms"] = 0 },
        }, Ct);

        var sick = await WaitAsync(Client, slug,
            s => s.TryGetProperty("health_status", out var h) && h.GetProperty("consecutive_failures").GetInt32() >= 3, Long, "3 failed checks", Ct);
        Status(sick).Should().NotBe("ready");
        sick.GetProperty("healthy").GetBoolean().Should().BeFalse();
        (await Client.GetAsync("/health", Ct)).Code.Should().Be(200, "the agent keeps serving");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }
}
