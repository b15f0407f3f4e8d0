namespace Sandboxd.Core;

/// <summary>Where a request's token came from.</summary>
internal enum TokenSource { None, Header, Query, Cookie }

/// <summary>What kind of credential authenticated a request.</summary>
internal enum TokenKind { AccessToken, SessionToken, AuthDisabled }

/// <summary>The authenticated caller of a request.</summary>
internal sealed record AuthPrincipal(TokenKind Kind, string? SessionTokenId = null, DateTime? ExpiresAt = null, TokenSource Source = TokenSource.None);
