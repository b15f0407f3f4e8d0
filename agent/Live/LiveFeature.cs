namespace Sandboxd.Live;

internal static class LiveFeature
{
    public static IServiceCollection AddLive(this IServiceCollection services)
    {
        services.AddSingleton<LiveHub>();
        return services;
    }

    public static IEndpointRouteBuilder MapLive(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/ws", LiveEndpoints.ConnectAsync);
        return routes;
    }
}
