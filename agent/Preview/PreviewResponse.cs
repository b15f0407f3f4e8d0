namespace Sandboxd.Preview;

/// <summary>
/// What a previewed app may not do to the agent (docs/security.md, "Previews"). A path preview
/// (<c>/preview/&lt;port&gt;/…</c>) shares the agent's origin, so its answers carry a
/// <c>Content-Security-Policy: sandbox</c> that gives the page an opaque origin (no access to the agent's cookies,
/// storage or same-origin API calls) and may not widen a service worker's scope; no preview, by path or by host, may
/// set the agent's session cookie.
/// </summary>
internal static class PreviewResponse
{
    /// <summary>Scripts, forms, pop-ups and downloads work; same-origin access, top navigation and modals do not.</summary>
    public const string PathPreviewPolicy = "sandbox allow-scripts allow-forms allow-popups allow-downloads";

    public static void Protect(HttpContext context, bool byPath) =>
        context.Response.OnStarting(static state =>
        {
            var (response, byPath) = ((HttpResponse, bool))state;
            var headers = response.Headers;
            if (headers.SetCookie.Count > 0)
            {
                var kept = headers.SetCookie.Where(c => c is not null && !IsAgentCookie(c)).ToArray();
                if (kept.Length != headers.SetCookie.Count)
                {
                    headers.SetCookie = kept;
                }
            }

            if (byPath)
            {
                headers.Remove("Service-Worker-Allowed");
                headers.Append("Content-Security-Policy", PathPreviewPolicy);
            }

            return Task.CompletedTask;
        }, (context.Response, byPath));

    private static bool IsAgentCookie(string setCookie) =>
        setCookie.TrimStart().StartsWith(Auth.TokenSources.CookieName + "=", StringComparison.OrdinalIgnoreCase);
}
