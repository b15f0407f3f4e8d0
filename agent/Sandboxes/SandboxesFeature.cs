namespace Sandboxd.Sandboxes;

internal static class SandboxesFeature
{
    public static IServiceCollection AddSandboxes(this IServiceCollection services)
    {
        services.AddSingleton<SandboxRegistry>();
        return services;
    }
}
