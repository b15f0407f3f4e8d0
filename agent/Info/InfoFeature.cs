using Sandboxd.Auth;

namespace Sandboxd.Info;

internal static class InfoFeature
{
    public static IEndpointRouteBuilder MapInfo(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/health", InfoEndpoints.Health).AllowAnonymousAgent();
        routes.MapGet("/info", InfoEndpoints.GetInfo).AllowAnonymousAgent();
        routes.MapGet("/ready", InfoEndpoints.Ready).AllowAnonymousAgent();
        return routes;
    }
}
