using Sandboxd.Core;
using Sandboxd.Errors;

namespace Sandboxd.Hosting;

/// <summary>
/// Outermost middleware: every failure becomes a JSON error body, and framework answers without a body (404 for an
/// unknown route, 405, 415…) get one too, because the client parses every non-204 body as JSON. A
/// <see cref="SandboxdException"/> from a handler or service is the expected way to fail: it answers with its kind's
/// status (<see cref="Api.StatusOf"/>) and is not logged as an error.
/// </summary>
internal sealed class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (SandboxdException e)
        {
            if (!context.Response.HasStarted)
            {
                context.Response.Headers.ContentLength = null;
                await Api.WriteErrorAsync(context, e.Kind, e.Message).ConfigureAwait(false);
            }

            return;
        }
        catch (BadHttpRequestException e)
        {
            if (!context.Response.HasStarted)
            {
                var message = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? RequestBody.TooLargeMessage
                    : "Bad request: " + e.Message;
                await Api.WriteErrorAsync(context, e.StatusCode, message).ConfigureAwait(false);
            }

            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away
        }
        catch (Exception e)
        {
            logger.Unhandled(e, context.Request.Method, context.Request.Path);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await Api.WriteErrorAsync(context, ErrorKind.Internal, "Internal error: " + e.Message).ConfigureAwait(false);
            }

            return;
        }

        var response = context.Response;
        if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && response.ContentType is null
            && context.Request.Method != HttpMethods.Head)
        {
            var message = response.StatusCode switch
            {
                404 => $"Not found: {context.Request.Method} {context.Request.PathBase}{context.Request.Path}",
                405 => $"Method {context.Request.Method} is not allowed on {context.Request.PathBase}{context.Request.Path}",
                415 => "Unsupported content type: send application/json.",
                _ => $"Request failed with status {response.StatusCode}",
            };
            await Api.WriteErrorAsync(context, response.StatusCode, message).ConfigureAwait(false);
        }
    }
}
