namespace Sandboxd.Auth;

/// <summary>Turns a presented token into a principal (or null). Session tokens plug in through <see cref="SessionTokenLookup"/>.</summary>
internal sealed class TokenValidator(AccessTokens access)
{
    private static readonly AuthPrincipal Disabled = new(TokenKind.AuthDisabled);
    private static readonly AuthPrincipal Access = new(TokenKind.AccessToken);

    /// <summary>Set by the session-token feature; returns the principal for a live session token.</summary>
    public Func<string, AuthPrincipal?>? SessionTokenLookup { get; set; }

    public bool AuthEnabled => access.Enabled;

    public AuthPrincipal? Validate(string? token)
    {
        if (!access.Enabled)
        {
            return Disabled;
        }

        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        if (access.Matches(token))
        {
            return Access;
        }

        return SessionTokenLookup?.Invoke(token);
    }
}
