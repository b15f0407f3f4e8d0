using Sandboxd.Core;
using Sandboxd.Native;

namespace Sandboxd.Watch;

internal static class WatchFeature
{
    public static IServiceCollection AddWatch(this IServiceCollection services) =>
        services.AddSingleton<InotifyHub>().AddSingleton<WatcherService>().AddSingleton<ISandboxScoped>(sp => sp.GetRequiredService<WatcherService>());

    public static IEndpointRouteBuilder MapWatch(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/watchers");
        group.MapPost("/", WatchEndpoints.CreateAsync);
        group.MapGet("/", WatchEndpoints.List);
        group.MapGet("/{id}", WatchEndpoints.Get);
        group.MapDelete("/{id}", WatchEndpoints.DestroyAsync);
        return routes;
    }
}
