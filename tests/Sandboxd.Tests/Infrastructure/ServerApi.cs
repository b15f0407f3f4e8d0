using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;

namespace Sandboxd.Tests.Infrastructure;

/// <summary>Shortcuts for the managed-server, overlay and sandbox routes, over raw JSON (shape checks stay explicit).</summary>
public static class ServerApi
{
    /// <summary>An HTTP server on $PORT, started with the system python (a pyenv shim would be slow).</summary>
    public const string PythonHttp = "exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1";

    /// <summary>A server on $PORT that answers every GET with 500.</summary>
    public const string Python500 =
        "exec /usr/bin/python3 -c 'import http.server,os\n" +
        "class H(http.server.BaseHTTPRequestHandler):\n" +
        "  def do_GET(s):\n    s.send_response(500); s.send_header(\"Content-Length\",\"0\"); s.end_headers()\n" +
        "  def log_message(s,*a): pass\n" +
        "http.server.HTTPServer((\"127.0.0.1\",int(os.environ[\"PORT\"])),H).serve_forever()'";

    public static string Slug(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    public static async Task<JsonElement> StartAsync(AgentClient client, JsonObject body, CancellationToken ct, string prefix = "")
    {
        var response = await client.PostJsonAsync(prefix + "/servers", body.ToJsonString(), ct);
        response.ShouldHaveStatus(201);
        return response.Data.GetProperty("server");
    }

    public static async Task<JsonElement> GetAsync(AgentClient client, string slug, CancellationToken ct, string prefix = "")
    {
        var response = await client.GetAsync($"{prefix}/servers/{Uri.EscapeDataString(slug)}", ct);
        response.ShouldHaveStatus(200);
        return response.Data.GetProperty("server");
    }

    public static string Status(JsonElement server) => server.GetProperty("status").GetString()!;

    public static int Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : -1;

    public static Task<JsonElement> WaitAsync(
        AgentClient client, string slug, Func<JsonElement, bool> done, TimeSpan timeout, string what, CancellationToken ct, string prefix = "") =>
        Eventually.UntilAsync(() => GetAsync(client, slug, ct, prefix), done, timeout, $"server {slug}: {what}", ct);

    public static Task<JsonElement> WaitForStatusAsync(
        AgentClient client, string slug, string status, TimeSpan timeout, CancellationToken ct, string prefix = "") =>
        WaitAsync(client, slug, s => Status(s) == status, timeout, "status " + status, ct, prefix);

    public static async Task<string> LogsAsync(AgentClient client, string slug, string? stream, CancellationToken ct)
    {
        var response = await client.GetAsync($"/servers/{Uri.EscapeDataString(slug)}/logs" + (stream is null ? "" : "?stream=" + stream), ct);
        response.ShouldHaveStatus(200);
        return response.Data.GetProperty("logs").GetString()!;
    }

    /// <summary>A port nobody listens on right now (the kernel picked it, then it was released).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Live (non-zombie) processes in a process group, read from /proc.</summary>
    public static IReadOnlyList<ProcStat> LiveGroup(int pgid) =>
        ProcFs.All().Where(p => p.ProcessGroup == pgid && p.State is not ('Z' or 'X')).ToList();

    public static JsonArray Arr(params string[] items) => new(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());

    public static void ShouldBeOneOf(this string? value, params string[] allowed) => value.Should().BeOneOf(allowed);
}
