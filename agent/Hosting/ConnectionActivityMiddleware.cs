using Sandboxd.Core;

namespace Sandboxd.Hosting;

/// <summary>Tells the <see cref="ConnectionGate"/> when a connection's requests start and end, and when one authenticated.</summary>
internal sealed class ConnectionActivityMiddleware(RequestDelegate next, ConnectionGate gate)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (gate.Find(context.Connection.Id) is not { } activity)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        activity.RequestStarted();
        // A WebSocket's 101 or a stream's first byte: by then the principal is known, so the connection stops counting.
        context.Response.OnStarting(static state =>
        {
            var (context, activity) = ((HttpContext, ConnectionGate.Activity))state;
            if (context.Features.Get<AuthPrincipal>() is not null)
            {
                activity.Authenticated();
            }

            return Task.CompletedTask;
        }, (context, activity));
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            if (context.Features.Get<AuthPrincipal>() is not null)
            {
                activity.Authenticated();
            }

            activity.RequestEnded();
        }
    }
}
