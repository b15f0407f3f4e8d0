using System.Globalization;
using Microsoft.AspNetCore.Http.Extensions;
using Sandboxd.Auth;
using Sandboxd.Core;

namespace Sandboxd.Preview;

/// <summary>
/// Serves preview URLs before normal routing: <c>&lt;sub&gt;-&lt;port&gt;.&lt;domain&gt;</c> hosts (per the template) and
/// <c>/preview/&lt;port&gt;/…</c> paths go to the port on 127.0.0.1. A token (header, query or session cookie) is needed
/// unless a server started with <c>public: true</c> owns the port.
/// </summary>
internal sealed class PreviewMiddleware(
    RequestDelegate next, PreviewRouting routing, PreviewProxy proxy, TokenValidator tokens, SessionTokens sessions, ISandboxServers servers)
{
    public async Task InvokeAsync(HttpContext context)
    {
        int port;
        string pathAndQuery;
        if (routing.TryMatchHost(context.Request, out port))
        {
            pathAndQuery = context.Request.Path + StripToken(context.Request.QueryString);
        }
        else if (TryMatchPath(context.Request, out port, out var rest))
        {
            pathAndQuery = rest + StripToken(context.Request.QueryString);
        }
        else
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (!servers.IsPublicPort(port))
        {
            var principal = tokens.Validate(TokenSources.Find(context.Request));
            if (principal is null)
            {
                await Api.WriteErrorAsync(context, StatusCodes.Status401Unauthorized,
                    $"unauthorized: port {port} is private; send a token (header, ?token= or the session cookie) or start its server with public: true").ConfigureAwait(false);
                return;
            }

            context.Features.Set(principal);
            if (principal.SessionTokenId is { } id)
            {
                // Revoking the session token cuts its proxied connections at once.
                using var revocation = sessions.OnRevoke(id, context.Abort);
                await proxy.ForwardAsync(context, port, pathAndQuery, context.RequestAborted).ConfigureAwait(false);
                return;
            }
        }

        await proxy.ForwardAsync(context, port, pathAndQuery, context.RequestAborted).ConfigureAwait(false);
    }

    private static bool TryMatchPath(HttpRequest request, out int port, out string rest)
    {
        port = 0;
        rest = "/";
        var path = request.Path.Value ?? "";
        if (!path.StartsWith("/preview/", StringComparison.Ordinal))
        {
            return false;
        }

        var end = path.IndexOf('/', 9);
        var number = end < 0 ? path[9..] : path[9..end];
        rest = end < 0 ? "/" : path[end..];
        return int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 65536;
    }

    private static string StripToken(QueryString query)
    {
        if (!query.HasValue || !query.Value!.Contains("token=", StringComparison.Ordinal))
        {
            return query.Value ?? "";
        }

        var kept = new QueryBuilder();
        foreach (var (key, values) in Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query.Value))
        {
            if (key != "token")
            {
                foreach (var value in values)
                {
                    kept.Add(key, value ?? "");
                }
            }
        }

        return kept.ToQueryString().Value ?? "";
    }
}
