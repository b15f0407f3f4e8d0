using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Overlays;

internal static class OverlaysFeature
{
    public static IServiceCollection AddOverlays(this IServiceCollection services)
    {
        services.AddSingleton<OverlayService>();
        services.AddSingleton<ISandboxScoped>(sp => sp.GetRequiredService<OverlayService>());
        services.AddSingleton<ISandboxOverlays>(sp => sp.GetRequiredService<OverlayService>());
        services.AddSingleton<IReadinessContributor, OverlaysReadiness>();
        return services;
    }

    public static IEndpointRouteBuilder MapOverlays(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/filesystem/overlays");
        group.MapPost("/", OverlayEndpoints.CreateAsync);
        group.MapGet("/", OverlayEndpoints.List);
        group.MapGet("/{id}", OverlayEndpoints.Get);
        group.MapDelete("/{id}", OverlayEndpoints.DestroyAsync);
        return routes;
    }

    private sealed class OverlaysReadiness : IReadinessContributor
    {
        public void Contribute(SandboxContext sandbox, HttpContext http, List<ReadyServer> servers, List<ReadyOverlay> overlays) =>
            overlays.AddRange(OverlayService.List(sandbox).Select(o => o.ToReady()));
    }
}
