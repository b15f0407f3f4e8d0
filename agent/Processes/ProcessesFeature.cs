using Sandboxd.Native;

namespace Sandboxd.Processes;

internal static class ProcessesFeature
{
    public static IServiceCollection AddProcesses(this IServiceCollection services)
    {
        services.AddSingleton<EpollLoop>();
        services.AddSingleton<ProcessTable>();
        services.AddSingleton<ChildLedger>();
        services.AddSingleton(_ => CgroupHost.Configure("sandboxd." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        services.AddSingleton<Spawner>();
        services.AddSingleton<ChildEnvironment>();
        services.AddHostedService<ProcessSupervisorService>();
        return services;
    }
}
