using Sandboxd.Core;
using Sandboxd.Live;

namespace Sandboxd.Terminals;

internal static class TerminalsFeature
{
    public static IServiceCollection AddTerminals(this IServiceCollection services)
    {
        services.AddSingleton<TerminalEvents>();
        services.AddSingleton<CommandExecutor>();
        services.AddSingleton<Commands>();
        services.AddSingleton<TerminalService>();
        services.AddSingleton<ISandboxScoped>(sp => sp.GetRequiredService<TerminalService>());
        services.AddSingleton<TerminalInput>();
        return services;
    }

    public static IEndpointRouteBuilder MapTerminals(this IEndpointRouteBuilder routes)
    {
        routes.ServiceProvider.GetRequiredService<TerminalInput>().Register(routes.ServiceProvider.GetRequiredService<LiveHub>());
        var group = routes.MapGroup("/terminals");
        group.MapPost("/", TerminalEndpoints.CreateAsync);
        group.MapGet("/", TerminalEndpoints.List);
        group.MapGet("/{id}", TerminalEndpoints.Get);
        group.MapDelete("/{id}", TerminalEndpoints.DestroyAsync);
        group.MapPost("/{id}/execute", TerminalEndpoints.ExecuteAsync);
        group.MapGet("/{id}/commands", TerminalEndpoints.ListCommands);
        group.MapGet("/{id}/commands/{cmdId}", TerminalEndpoints.GetCommand);
        group.MapGet("/{id}/commands/{cmdId}/wait", TerminalEndpoints.WaitAsync);
        return routes;
    }
}
