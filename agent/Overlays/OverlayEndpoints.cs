using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Overlays;

internal static class OverlayEndpoints
{
    public static async Task<JsonHttpResult<OverlayInfo>> CreateAsync(HttpContext http, SandboxContext sandbox, OverlayService overlays, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.CreateOverlayRequest, cancellationToken);

        var overlay = await overlays.CreateAsync(sandbox, body, cancellationToken);
        return Api.Raw(overlay.ToInfo(), ProtocolJsonContext.Default.OverlayInfo, StatusCodes.Status201Created);
    }

    public static JsonHttpResult<OverlayList> List(SandboxContext sandbox) =>
        Api.Raw(new OverlayList([.. OverlayService.List(sandbox).Select(o => o.ToInfo())]), ProtocolJsonContext.Default.OverlayList);

    public static Results<JsonHttpResult<OverlayInfo>, JsonHttpResult<ErrorResponse>> Get(string id, SandboxContext sandbox) =>
        OverlayService.Registry(sandbox).TryGetValue(id, out var overlay)
            ? Api.Raw(overlay.ToInfo(), ProtocolJsonContext.Default.OverlayInfo)
            : Api.NotFound($"Overlay {id} not found.");

    public static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DestroyAsync(string id, SandboxContext sandbox, OverlayService overlays) =>
        await overlays.DestroyAsync(sandbox, id) ? Api.NoContent() : Api.NotFound($"Overlay {id} not found.");
}
