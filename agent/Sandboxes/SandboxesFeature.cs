using Sandboxd.Core;
namespace Sandboxd.Sandboxes;

internal static class SandboxesFeature
{
    public static IServiceCollection AddSandboxes(this IServiceCollection services)
    {
        services.AddSingleton<SandboxRegistry>();
        services.AddSingleton<SandboxService>();
        return services;
    }

    /// <summary>Registered last, so it runs after servers were restored from the state directory.</summary>
    public static IServiceCollection AddBootSetup(this IServiceCollection services) => services.AddHostedService<BootSetup>();

    public static IEndpointRouteBuilder MapSandboxes(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/sandboxes");
        group.MapPost("/", SandboxEndpoints.CreateAsync);
        group.MapGet("/", SandboxEndpoints.List);
        group.MapGet("/{subdomain}", SandboxEndpoints.Get);
        group.MapDelete("/{subdomain}", SandboxEndpoints.DestroyAsync);
        return routes;
    }
}
