using Sandboxd.Core;
namespace Sandboxd.Signals;

internal static class SignalsFeature
{
    public static IServiceCollection AddSignals(this IServiceCollection services) => services.AddSingleton<SignalService>().AddSingleton<ISignalEmitter>(sp => sp.GetRequiredService<SignalService>());

    public static IEndpointRouteBuilder MapSignals(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/signals");
        group.MapPost("/start", SignalEndpoints.Start);
        group.MapGet("/status", SignalEndpoints.GetStatus);
        group.MapPost("/stop", SignalEndpoints.Stop);
        group.MapPost("/port", SignalEndpoints.PortAsync);
        group.MapPost("/port/{port}/{type}", SignalEndpoints.PortAlt);
        group.MapPost("/error", SignalEndpoints.ErrorAsync);
        group.MapPost("/server-ready", SignalEndpoints.ServerReadyAsync);
        return routes;
    }
}
