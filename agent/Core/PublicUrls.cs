namespace Sandboxd.Core;

/// <summary>URLs the agent hands out: <c>--public-url</c> if set, else the request's scheme and Host, plus the sandbox prefix.</summary>
internal sealed class PublicUrls(AgentOptions options)
{
    public string BaseUrl(HttpContext context) =>
        (options.PublicUrl ?? $"{context.Request.Scheme}://{context.Request.Host}") + context.Request.PathBase;

    public string RootUrl(HttpContext context) => options.PublicUrl ?? $"{context.Request.Scheme}://{context.Request.Host}";

    public string WebSocketUrl(HttpContext context)
    {
        var baseUrl = BaseUrl(context);
        return (baseUrl.StartsWith("https", StringComparison.OrdinalIgnoreCase) ? "wss" + baseUrl[5..] : "ws" + baseUrl[4..]) + "/ws";
    }

    /// <summary>The URL the agent listens on (set once serving); used for <c>{public_url}</c> when --public-url is not given.</summary>
    public string? ListenUrl { get; set; }

    /// <summary>Preview URL of a port per <c>--preview-url-template</c> ({port}, {subdomain}, {host}, {public_url}).</summary>
    public string PreviewUrl(int port, string subdomain, string? host) =>
        options.PreviewUrlTemplate
            .Replace("{public_url}", options.PublicUrl ?? ListenUrl ?? "http://localhost", StringComparison.Ordinal)
            .Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{subdomain}", subdomain, StringComparison.Ordinal)
            .Replace("{host}", host ?? "localhost", StringComparison.Ordinal);
}
