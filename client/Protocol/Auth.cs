using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary><c>POST /auth/session_tokens</c> (camelCase on the wire).</summary>
public sealed record CreateSessionTokenRequest(
    [property: JsonPropertyName("description")] string? Description = null,
    [property: JsonPropertyName("expiresIn")] double? ExpiresIn = null);

/// <summary><c>POST /auth/session_tokens</c> answer (top-level, camelCase). <see cref="Token"/> is shown only here.</summary>
public sealed record SessionTokenCreated(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("createdAt")] DateTime CreatedAt,
    [property: JsonPropertyName("expiresAt")] DateTime ExpiresAt,
    [property: JsonPropertyName("expiresIn")] long ExpiresIn,
    [property: JsonPropertyName("description")] string? Description = null);

/// <summary><c>GET /auth/session_tokens/{id}</c> answer (top-level, camelCase; never the secret).</summary>
public sealed record SessionTokenDetails(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("createdAt")] DateTime CreatedAt,
    [property: JsonPropertyName("expiresAt")] DateTime ExpiresAt,
    [property: JsonPropertyName("expiresIn")] long ExpiresIn,
    [property: JsonPropertyName("description")] string? Description = null,
    [property: JsonPropertyName("lastUsedAt")] DateTime? LastUsedAt = null);

/// <summary>An item of <c>GET /auth/session_tokens</c> (snake_case).</summary>
public sealed record SessionTokenItem(string Id, DateTime CreatedAt, DateTime ExpiresAt, string? Description = null, DateTime? LastUsedAt = null);

/// <summary><c>GET /auth/session_tokens</c> data.</summary>
public sealed record SessionTokenList(IReadOnlyList<SessionTokenItem> Tokens);

/// <summary><c>POST /auth/magic-links</c> body (camelCase).</summary>
public sealed record CreateMagicLinkRequest([property: JsonPropertyName("redirectUrl")] string? RedirectUrl = null);

/// <summary><c>POST /auth/magic-links</c> data.</summary>
public sealed record MagicLinkData(string MagicUrl, DateTime ExpiresAt, string RedirectUrl);
