using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Protocol;

namespace Sandboxd.Gateway.Sandboxes;

/// <summary>G1–G6 of gateway-http.md §4: read the body, call <see cref="SandboxService"/>, wrap the answer.</summary>
internal static class SandboxEndpoints
{
    private static readonly CreateSandboxRequest EmptyCreate = new();

    internal static async Task<Ok<Envelope<SandboxInfo>>> CreateAsync(HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        var request = await Api.ReadBodyAsync(context.Request, GatewayJsonContext.Default.CreateSandboxRequest, cancellationToken) ?? EmptyCreate;
        var info = await sandboxes.CreateAsync(Owner.From(context), request, cancellationToken);
        return Api.Ok(info);
    }

    internal static async Task<Ok<Envelope<SandboxInfo>>> GetAsync(string id, HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken) =>
        Api.Ok(await sandboxes.GetAsync(Owner.From(context), id, cancellationToken));

    internal static async Task<Ok<SuccessResponse>> DestroyAsync(string id, HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        await sandboxes.DestroyAsync(Owner.From(context), id, cancellationToken);
        return Api.Success();
    }

    internal static async Task<Ok<Envelope<SandboxInfo>>> FindOrCreateAsync(HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        var request = await Api.ReadBodyAsync(context.Request, GatewayJsonContext.Default.CreateSandboxRequest, cancellationToken) ?? EmptyCreate;
        var info = await sandboxes.FindOrCreateAsync(Owner.From(context), request, cancellationToken);
        return Api.Ok(info);
    }

    internal static async Task<Ok<Envelope<SandboxInfo>>> FindAsync(HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        var request = await Api.ReadBodyAsync(context.Request, GatewayJsonContext.Default.FindSandboxRequest, cancellationToken) ?? new();
        var info = await sandboxes.FindAsync(Owner.From(context), request, cancellationToken);
        return Api.Ok(info);
    }

    internal static async Task<Ok<SuccessResponse>> ExtendAsync(string id, HttpContext context, SandboxService sandboxes, CancellationToken cancellationToken)
    {
        var request = await Api.ReadBodyAsync(context.Request, GatewayJsonContext.Default.ExtendSandboxRequest, cancellationToken) ?? new();
        await sandboxes.ExtendAsync(Owner.From(context), id, request, cancellationToken);
        return Api.Success();
    }
}
