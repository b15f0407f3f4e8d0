namespace Sandboxd.Auth;

/// <summary>Endpoint metadata: this route needs no token (health, ready, info, auth status/info, magic landing).</summary>
internal sealed class PublicEndpoint
{
    public static readonly PublicEndpoint Instance = new();

    private PublicEndpoint()
    {
    }
}

/// <summary>Endpoint metadata: only the access token may call this route (session tokens get 403).</summary>
internal sealed class AccessTokenOnlyEndpoint
{
    public static readonly AccessTokenOnlyEndpoint Instance = new();

    private AccessTokenOnlyEndpoint()
    {
    }
}

internal static class PublicEndpointExtensions
{
    public static TBuilder RequireAccessToken<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(AccessTokenOnlyEndpoint.Instance);

    public static TBuilder AllowAnonymousAgent<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(PublicEndpoint.Instance);
}
