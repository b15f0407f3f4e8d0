using Sandboxd.Auth;
using Sandboxd.Core;

namespace Sandboxd.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text format (an extension; token-protected unless --metrics-public).</summary>
internal static class MetricsFeature
{
    public static IServiceCollection AddAgentMetrics(this IServiceCollection services) => services.AddSingleton<MetricsCollector>();

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder routes, AgentOptions options)
    {
        // Created now, not at the first scrape: its listener must see every measurement from the start.
        _ = routes.ServiceProvider.GetRequiredService<MetricsCollector>();
        var route = routes.MapGet("/metrics", Scrape);
        if (options.MetricsPublic)
        {
            route.AllowAnonymousAgent();
        }

        return routes;
    }

    internal static Microsoft.AspNetCore.Http.HttpResults.ContentHttpResult Scrape(MetricsCollector collector) =>
        TypedResults.Text(collector.Scrape(), "text/plain; version=0.0.4; charset=utf-8");
}
