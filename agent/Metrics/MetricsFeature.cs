using Sandboxd.Auth;
using Sandboxd.Core;

namespace Sandboxd.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text format (an extension; token-protected unless --metrics-public).</summary>
internal static class MetricsFeature
{
    public static IServiceCollection AddAgentMetrics(this IServiceCollection services) => services.AddSingleton<MetricsExporter>();

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder routes, AgentOptions options)
    {
        // Created now, not at the first scrape: its listener must see every measurement from the start.
        _ = routes.ServiceProvider.GetRequiredService<MetricsExporter>();
        var route = routes.MapGet("/metrics", ScrapeAsync);
        if (options.MetricsPublic)
        {
            route.AllowAnonymousAgent();
        }

        return routes;
    }

    internal static async Task<Microsoft.AspNetCore.Http.HttpResults.FileContentHttpResult> ScrapeAsync(MetricsExporter exporter, CancellationToken cancellationToken)
    {
        using var text = new MemoryStream(16 * 1024);
        await exporter.ScrapeAsync(text, cancellationToken).ConfigureAwait(false);
        return TypedResults.Bytes(text.ToArray(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
