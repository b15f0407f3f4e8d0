namespace Sandboxd.Ports;

internal static class PortsFeature
{
    public static IServiceCollection AddPorts(this IServiceCollection services)
    {
        services.AddSingleton<PortScanner>();
        services.AddHostedService(sp => sp.GetRequiredService<PortScanner>());
        return services;
    }
}
