using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Auth;

internal static class AuthEndpoints
{
    private static readonly AuthInfoData Info = new(
        "sandboxd authentication: an access token (admin) or a session token (delegated) as a Bearer header, a token query parameter, or the session_token cookie.",
        "Create session tokens with POST /auth/session_tokens using the access token; hand them to browsers or users. Magic links (POST /auth/magic-links) log a browser in with a cookie.",
        new Protocol.AuthEndpoints(
            "POST /auth/session_tokens", "GET /auth/session_tokens", "GET /auth/session_tokens/:id",
            "DELETE /auth/session_tokens/:id", "POST /auth/magic-links", "GET /auth/status", "GET /auth/info"));

    public static JsonHttpResult<Envelope<AuthStatusData>> Status(HttpContext context)
    {
        var principal = context.Features.Get<AuthPrincipal>();
        var data = principal is null
            ? new AuthStatusData(false)
            : new AuthStatusData(true, principal.Kind == TokenKind.SessionToken ? "session_token" : "access_token", principal.ExpiresAt);
        return Api.Ok(data, ProtocolJsonContext.Default.EnvelopeAuthStatusData);
    }

    public static JsonHttpResult<Envelope<AuthInfoData>> GetInfo() => Api.Ok(Info, ProtocolJsonContext.Default.EnvelopeAuthInfoData);
}
