namespace Sandboxd.Auth;

/// <summary>Endpoint metadata: this route needs no token (health, ready, info, auth status/info, magic landing).</summary>
internal sealed class PublicEndpoint
{
    public static readonly PublicEndpoint Instance = new();

    private PublicEndpoint()
    {
    }
}

internal static class PublicEndpointExtensions
{
    public static TBuilder AllowAnonymousAgent<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(PublicEndpoint.Instance);
}
