using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Auth;

internal static class SessionTokenEndpoints
{
    public static async Task<Results<JsonHttpResult<SessionTokenCreated>, JsonHttpResult<ErrorResponse>>> CreateAsync(HttpContext http, SessionTokens tokens, TimeProvider time, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadOptionalAsync(http.Request, ProtocolJsonContext.Default.CreateSessionTokenRequest, cancellationToken);

        var request = body ?? new CreateSessionTokenRequest();
        var lifetime = request.ExpiresIn ?? SessionTokens.DefaultLifetimeSeconds;
        if (lifetime <= 0 || double.IsNaN(lifetime) || lifetime > 10L * 365 * 86400)
        {
            return Api.BadRequest("Field 'expiresIn' must be a positive number of seconds (at most ten years).");
        }

        var (stored, secret) = tokens.Create(request.Description, (long)Math.Ceiling(lifetime));
        return Api.Raw(new SessionTokenCreated(stored.Id, secret, stored.CreatedAt, stored.ExpiresAt, (long)Math.Ceiling(lifetime), stored.Description),
            ProtocolJsonContext.Default.SessionTokenCreated, StatusCodes.Status201Created);
    }

    public static JsonHttpResult<Envelope<SessionTokenList>> List(SessionTokens tokens) =>
        Api.Ok(new SessionTokenList([.. tokens.List().Select(t => new SessionTokenItem(t.Id, t.CreatedAt, t.ExpiresAt, t.Description, t.LastUsedAt))]),
            ProtocolJsonContext.Default.EnvelopeSessionTokenList);

    public static Results<JsonHttpResult<SessionTokenDetails>, JsonHttpResult<ErrorResponse>> Get(string id, SessionTokens tokens, TimeProvider time)
    {
        if (tokens.Get(id) is not { } t)
        {
            return Api.NotFound($"Session token {id} not found (unknown, expired or revoked).");
        }

        var remaining = (long)Math.Max(0, (t.ExpiresAt - time.GetUtcNow().UtcDateTime).TotalSeconds);
        return Api.Raw(new SessionTokenDetails(t.Id, t.CreatedAt, t.ExpiresAt, remaining, t.Description, t.LastUsedAt), ProtocolJsonContext.Default.SessionTokenDetails);
    }

    public static Results<NoContent, JsonHttpResult<ErrorResponse>> Revoke(string id, SessionTokens tokens, Live.LiveHub hub)
    {
        if (!tokens.Revoke(id))
        {
            return Api.NotFound($"Session token {id} not found (unknown, expired or revoked).");
        }

        hub.CloseWhere(c => c.Principal?.SessionTokenId == id, "session token revoked");
        return Api.NoContent();
    }
}
