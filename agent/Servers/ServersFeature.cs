using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Servers;

internal static class ServersFeature
{
    public static IServiceCollection AddServers(this IServiceCollection services)
    {
        services.AddSingleton<ServerSupervisor>();
        services.AddHostedService(sp => sp.GetRequiredService<ServerSupervisor>());
        services.AddSingleton<ISandboxScoped>(sp => sp.GetRequiredService<ServerSupervisor>());
        services.AddSingleton<ISandboxServers>(sp => sp.GetRequiredService<ServerSupervisor>());
        services.AddSingleton<IReadinessContributor, ServersReadiness>();
        return services;
    }

    public static IEndpointRouteBuilder MapServers(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/servers");
        group.MapGet("/", ServerEndpoints.List);
        group.MapPost("/", ServerEndpoints.StartAsync);
        group.MapGet("/{slug}", ServerEndpoints.Get);
        group.MapDelete("/{slug}", ServerEndpoints.DeleteAsync);
        group.MapPost("/{slug}/stop", ServerEndpoints.StopAsync);
        group.MapPost("/{slug}/restart", ServerEndpoints.RestartAsync);
        group.MapGet("/{slug}/logs", ServerEndpoints.Logs);
        group.MapPatch("/{slug}/status", ServerEndpoints.UpdateStatusAsync);
        return routes;
    }

    private sealed class ServersReadiness : IReadinessContributor
    {
        public void Contribute(SandboxContext sandbox, HttpContext http, List<ReadyServer> servers, List<ReadyOverlay> overlays) =>
            servers.AddRange(ServerSupervisor.List(sandbox).Select(s => s.ToReady()));
    }
}
