namespace Sandboxd.Env;

internal static class EnvFeature
{
    public static IServiceCollection AddEnv(this IServiceCollection services) => services.AddSingleton<EnvFileLocks>();

    public static IEndpointRouteBuilder MapEnv(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/env", EnvEndpoints.Get);
        routes.MapMethods("/env", [HttpMethods.Head], EnvEndpoints.Head);
        routes.MapPost("/env", EnvEndpoints.SetAsync);
        routes.MapDelete("/env", EnvEndpoints.DeleteAsync);
        return routes;
    }
}
