
namespace Sandboxd.Run;

internal static class RunFeature
{
    public static IServiceCollection AddRun(this IServiceCollection services)
    {
        services.AddSingleton<CodeRunner>();
        return services;
    }

    public static IEndpointRouteBuilder MapRun(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/run/command", RunEndpoints.CommandAsync);
        routes.MapPost("/execute", RunEndpoints.CommandAsync);
        routes.MapPost("/run/code", RunEndpoints.CodeAsync);
        return routes;
    }
}
