using Sandboxd.Core;
namespace Sandboxd.Auth;

/// <summary>Turns a presented token into a principal (or null): the access token(s) first, then live session tokens.</summary>
internal sealed class TokenValidator(AccessTokens access, SessionTokens sessions)
{
    private static readonly AuthPrincipal Disabled = new(TokenKind.AuthDisabled);
    private static readonly AuthPrincipal Access = new(TokenKind.AccessToken);

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

        return access.Matches(token) ? Access : sessions.Validate(token);
    }
}
