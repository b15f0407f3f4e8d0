namespace Sandboxd.Auth;

/// <summary>
/// The one place where tokens are checked, after routing and before any handler (WebSocket upgrades included, so a
/// bad token never gets a 101). Public endpoints pass; everything else — unknown routes too — needs a valid token.
/// </summary>
internal sealed class AuthMiddleware(RequestDelegate next, TokenValidator validator)
{
    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var token = TokenSources.Find(context.Request);
        var principal = validator.Validate(token);
        if (principal is not null)
        {
            context.Features.Set(principal);
        }

        if (endpoint?.Metadata.GetMetadata<PublicEndpoint>() is not null)
        {
            return next(context);
        }

        if (principal is null)
        {
            return Hosting.Api.WriteErrorAsync(context, StatusCodes.Status401Unauthorized,
                token is null ? "unauthorized: send Authorization: Bearer <token>" : "unauthorized: the token is invalid, expired or revoked");
        }

        return next(context);
    }
}
