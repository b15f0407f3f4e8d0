using Sandboxd.Gateway.Docker;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Providers;

namespace Sandboxd.Gateway.Sandboxes;

internal static class SandboxesFeature
{
    public static IServiceCollection AddSandboxes(this IServiceCollection services)
    {
        services.AddSingleton<LocalProvider>();
        services.AddSingleton<DockerEngines>();
        services.AddSingleton<DockerProvider>();
        services.AddSingleton<IProvider>(sp => sp.GetRequiredService<GatewayOptions>().Provider == "docker"
            ? sp.GetRequiredService<DockerProvider>()
            : sp.GetRequiredService<LocalProvider>());
        services.AddSingleton<SandboxService>();
        services.AddHostedService<EngineMonitor>(); // before the reconciler: it must know which engines answer
        services.AddHostedService<Reconciler>();
        services.AddHostedService<ExpiryLoop>();
        services.AddHttpClient("agents");
        return services;
    }

    public static RouteGroupBuilder MapSandboxes(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/sandboxes");
        group.MapPost("/", SandboxEndpoints.CreateAsync);
        group.MapPost("/find-or-create", SandboxEndpoints.FindOrCreateAsync);
        group.MapPost("/find", SandboxEndpoints.FindAsync);
        group.MapGet("/{id}", SandboxEndpoints.GetAsync);
        group.MapDelete("/{id}", SandboxEndpoints.DestroyAsync);
        group.MapPost("/{id}/extend", SandboxEndpoints.ExtendAsync);
        return group;
    }
}
