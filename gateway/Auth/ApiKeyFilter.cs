using Sandboxd.Gateway.Protocol;

namespace Sandboxd.Gateway.Auth;

/// <summary>
/// One filter on the <c>/v1</c> group: a valid <c>X-ComputeSDK-API-Key</c> or 401 (the client turns 401 into "Invalid
/// ComputeSDK API key"). Provider headers (<c>X-Provider</c>, <c>X-E2B-API-Key</c>, …) are accepted and never read
/// or logged: every sandbox runs on this gateway's own backend.
/// </summary>
internal sealed class ApiKeyFilter(ApiKeys keys) : IEndpointFilter
{
    public const string HeaderName = "X-ComputeSDK-API-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!keys.TryAuthenticate(http.Request.Headers[HeaderName].ToString(), out var owner))
        {
            return TypedResults.Json(
                new ErrorResponse($"Missing or invalid API key: send a key this gateway accepts in {HeaderName}."),
                GatewayJsonContext.Default.ErrorResponse,
                statusCode: StatusCodes.Status401Unauthorized);
        }

        http.Items[typeof(Owner)] = new Owner(owner);
        return await next(context);
    }
}

/// <summary>The caller: the SHA-256 (hex) of its API key. Bound from the request once the filter has run.</summary>
internal sealed record Owner(string KeyHash)
{
    public static Owner From(HttpContext context) =>
        context.Items[typeof(Owner)] as Owner ?? throw new InvalidOperationException("The API-key filter did not run.");
}
