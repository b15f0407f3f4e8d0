using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Sandboxes;

internal static class SandboxEndpoints
{
    public static async Task<JsonHttpResult<SandboxInfo>> CreateAsync(HttpContext http, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadOptionalAsync(http.Request, ProtocolJsonContext.Default.CreateSandboxRequest, cancellationToken);

        var (context, created) = await sandboxes.CreateAsync(body ?? new CreateSandboxRequest(), cancellationToken);
        if (created)
        {
            sandboxes.AnnounceCreated(context, sandboxes.Url(http, context));
        }

        return Api.Raw(sandboxes.ToInfo(http, context), ProtocolJsonContext.Default.SandboxInfo, created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    public static JsonHttpResult<SandboxList> List(HttpContext http, SandboxRegistry registry, SandboxService sandboxes) =>
        Api.Raw(new SandboxList([sandboxes.ToInfo(http, registry.Main), .. registry.Children.Select(c => sandboxes.ToInfo(http, c.Context))]),
            ProtocolJsonContext.Default.SandboxList);

    public static Results<JsonHttpResult<SandboxInfo>, JsonHttpResult<ErrorResponse>> Get(string subdomain, HttpContext http, SandboxRegistry registry, SandboxService sandboxes)
    {
        var context = subdomain == registry.Main.Subdomain ? registry.Main : registry.TryGetChild(subdomain, out var child) ? child : null;
        return context is null
            ? Api.NotFound($"No sandbox with subdomain '{subdomain}'.")
            : Api.Raw(sandboxes.ToInfo(http, context), ProtocolJsonContext.Default.SandboxInfo);
    }

    public static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DestroyAsync(string subdomain, HttpContext http, SandboxRegistry registry, SandboxService sandboxes)
    {
        if (subdomain == registry.Main.Subdomain)
        {
            return Api.BadRequest("The main sandbox cannot be deleted.");
        }

        var deleteFiles = http.Request.Query["delete_files"].ToString() is "true" or "1";
        return await sandboxes.DestroyAsync(subdomain, deleteFiles) ? Api.NoContent() : Api.NotFound($"No sandbox with subdomain '{subdomain}'.");
    }
}
