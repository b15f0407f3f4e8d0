using System.Diagnostics.Metrics;

namespace Sandboxd.Telemetry;

/// <summary>
/// The agent's instruments (System.Diagnostics.Metrics), recorded by every feature and exposed by the Metrics feature
/// at <c>GET /metrics</c>. Names follow Prometheus conventions once exported (dots become underscores).
/// </summary>
internal static class AgentMeter
{
    public const string Name = "Sandboxd";

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("sandboxd.http.requests", description: "HTTP requests by route and status");

    public static readonly Histogram<double> RequestSeconds = Meter.CreateHistogram<double>("sandboxd.http.request.duration", unit: "s",
        description: "HTTP request latency by route");

    public static readonly Counter<long> BytesStreamed = Meter.CreateCounter<long>("sandboxd.files.streamed.bytes", unit: "By",
        description: "Bytes streamed through the raw file and archive routes, by direction");

    public static readonly Counter<long> ProcessesStarted = Meter.CreateCounter<long>("sandboxd.processes.started",
        description: "Children started, by kind (command, terminal, server, server-install)");

    public static readonly Counter<long> ProcessesExited = Meter.CreateCounter<long>("sandboxd.processes.exited",
        description: "Children exited, by kind and reason (success, failure, signal)");

    public static readonly Counter<long> ServerRestarts = Meter.CreateCounter<long>("sandboxd.servers.restarts",
        description: "Server restarts by the supervisor (crash, failed health check)");

    public static readonly UpDownCounter<long> OpenWebSockets = Meter.CreateUpDownCounter<long>("sandboxd.websockets.open",
        description: "Open /ws connections");

    public static readonly UpDownCounter<long> OpenWatchers = Meter.CreateUpDownCounter<long>("sandboxd.watchers.open",
        description: "Open file watchers (POST /watchers)");

    public static void Sent(long bytes, string route) => BytesStreamed.Add(bytes, new("direction", "out"), new("route", route));

    public static void Received(long bytes, string route) => BytesStreamed.Add(bytes, new("direction", "in"), new("route", route));
}
