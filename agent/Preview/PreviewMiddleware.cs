using Sandboxd.Auth;
using Sandboxd.Core;
using Sandboxd.Errors;

namespace Sandboxd.Preview;

/// <summary>
/// Serves preview URLs before normal routing: <c>&lt;sub&gt;-&lt;port&gt;.&lt;domain&gt;</c> hosts (per the template) and
/// <c>/preview/&lt;port&gt;/…</c> paths go to the port on 127.0.0.1. A token (header, query or session cookie) is needed
/// unless a server started with <c>public: true</c> owns the port. The app gets the client's raw target (see
/// <see cref="PreviewTarget"/>), without the agent's credential parameters; its answers pass <see cref="PreviewResponse"/>.
/// Previews run before CORS: a previewed app answers its own OPTIONS and sets its own CORS headers.
/// </summary>
internal sealed class PreviewMiddleware(
    RequestDelegate next, PreviewRouting routing, PreviewProxy proxy, TokenValidator tokens, SessionTokens sessions, ISandboxServers servers)
{
    public async Task InvokeAsync(HttpContext context)
    {
        int port;
        string target;
        bool byPath;
        if (routing.TryMatchHost(context.Request, out port))
        {
            target = PreviewTarget.Raw(context);
            byPath = false;
        }
        else if (PreviewTarget.TryMatchPath(context, out port, out var rest))
        {
            target = rest;
            byPath = true;
        }
        else
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (!target.StartsWith('/') || PreviewTarget.HasControlCharacters(context))
        {
            await Api.WriteErrorAsync(context, ErrorKind.Invalid,
                "bad preview path: a line break, NUL or an indirect spelling of /preview/<port> (dot segments, encoded prefix) is not forwarded; send the path plainly").ConfigureAwait(false);
            return;
        }

        target = PreviewTarget.WithoutAgentParameters(target);
        PreviewResponse.Protect(context, byPath);
        if (!servers.IsPublicPort(port))
        {
            var principal = tokens.Validate(TokenSources.Find(context.Request));
            if (principal is null)
            {
                await Api.WriteErrorAsync(context, ErrorKind.Unauthorized,
                    $"unauthorized: port {port} is private; send a token (header, ?token= or the session cookie) or start its server with public: true").ConfigureAwait(false);
                return;
            }

            context.Features.Set(principal);
            if (principal.SessionTokenId is not null)
            {
                // Revoking the session token, or its expiry, cuts its proxied connections at once.
                using var validity = sessions.WhileValid(principal, context.Abort);
                await proxy.ForwardAsync(context, port, target, context.RequestAborted).ConfigureAwait(false);
                return;
            }
        }

        await proxy.ForwardAsync(context, port, target, context.RequestAborted).ConfigureAwait(false);
    }
}
