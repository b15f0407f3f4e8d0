using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;

namespace Sandboxd.Gateway.Snapshots;

/// <summary>G7–G9 of gateway-http.md §4.</summary>
internal static class SnapshotEndpoints
{
    internal static async Task<Ok<Envelope<SnapshotInfo>>> CreateAsync(HttpContext context, SnapshotService snapshots, CancellationToken cancellationToken)
    {
        var request = await Api.ReadBodyAsync(context.Request, GatewayJsonContext.Default.CreateSnapshotRequest, cancellationToken) ?? new();
        var info = await snapshots.CreateAsync(Owner.From(context), request, cancellationToken);
        return Api.Ok(info);
    }

    internal static async Task<Ok<Envelope<IReadOnlyList<SnapshotInfo>>>> ListAsync(HttpContext context, SnapshotService snapshots, CancellationToken cancellationToken) =>
        Api.Ok(await snapshots.ListAsync(Owner.From(context), cancellationToken));

    internal static async Task<Ok<SuccessResponse>> DeleteAsync(string id, HttpContext context, SnapshotService snapshots, CancellationToken cancellationToken)
    {
        await snapshots.DeleteAsync(Owner.From(context), id, cancellationToken);
        return Api.Success();
    }
}
