namespace Sandboxd.Gateway.Snapshots;

internal static class SnapshotsFeature
{
    public static IServiceCollection AddSnapshots(this IServiceCollection services) => services.AddSingleton<SnapshotService>();

    public static RouteGroupBuilder MapSnapshots(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/snapshots");
        group.MapPost("/", SnapshotEndpoints.CreateAsync);
        group.MapGet("/", SnapshotEndpoints.ListAsync);
        group.MapDelete("/{id}", SnapshotEndpoints.DeleteAsync);
        return group;
    }
}
