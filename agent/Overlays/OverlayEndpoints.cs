using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Overlays;

internal static class OverlayEndpoints
{
    public static async Task<IResult> CreateAsync(HttpContext http, SandboxContext sandbox, OverlayService overlays, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.CreateOverlayRequest, optional: false, cancellationToken);
        if (body.Error is not null)
        {
            return body.Error;
        }

        var (overlay, status, error) = await overlays.CreateAsync(sandbox, body.Value!, cancellationToken);
        return overlay is null ? Api.Error(status, error!) : Api.Raw(overlay.ToInfo(), ProtocolJsonContext.Default.OverlayInfo, StatusCodes.Status201Created);
    }

    public static IResult List(SandboxContext sandbox) =>
        Api.Raw(new OverlayList([.. OverlayService.List(sandbox).Select(o => o.ToInfo())]), ProtocolJsonContext.Default.OverlayList);

    public static IResult Get(string id, SandboxContext sandbox) =>
        OverlayService.Registry(sandbox).TryGetValue(id, out var overlay)
            ? Api.Raw(overlay.ToInfo(), ProtocolJsonContext.Default.OverlayInfo)
            : Api.NotFound($"Overlay {id} not found.");

    public static async Task<IResult> DestroyAsync(string id, SandboxContext sandbox, OverlayService overlays) =>
        await overlays.DestroyAsync(sandbox, id) ? Api.NoContent() : Api.NotFound($"Overlay {id} not found.");
}
