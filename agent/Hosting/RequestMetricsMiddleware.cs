using Sandboxd.Telemetry;

namespace Sandboxd.Hosting;

/// <summary>Counts every request by route template, method and status, and times it (GET /metrics shows both).</summary>
internal sealed class RequestMetricsMiddleware(RequestDelegate next, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = time.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            var method = context.Request.Method;
            AgentMeter.Requests.Add(1, new("route", route), new("method", method), new("status", context.Response.StatusCode));
            AgentMeter.RequestSeconds.Record(time.GetElapsedTime(started).TotalSeconds, new("route", route), new("method", method));
        }
    }
}
