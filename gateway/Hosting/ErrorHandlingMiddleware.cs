namespace Sandboxd.Gateway.Hosting;

/// <summary>
/// Outermost middleware: every failure becomes a <c>{success:false,error}</c> JSON body with its status, and framework
/// answers without a body (unknown route, 405) get one too. The service keeps serving after any of them.
/// </summary>
internal sealed class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (GatewayException e)
        {
            if (e.Code is GatewayErrorCode.AgentFailed or GatewayErrorCode.Unavailable)
            {
                logger.RequestFailed(context.Request.Method, context.Request.Path, e.Message);
            }

            await WriteIfPossibleAsync(context, e.StatusCode, e.Message);
            return;
        }
        catch (BadHttpRequestException e)
        {
            await WriteIfPossibleAsync(context, e.StatusCode, "Bad request: " + e.Message);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away
        }
        catch (System.Data.Common.DbException e)
        {
            // The store (PostgreSQL across the network, or SQLite) failed: retryable, not the caller's fault.
            logger.Unhandled(e, context.Request.Method, context.Request.Path);
            await WriteIfPossibleAsync(context, StatusCodes.Status503ServiceUnavailable, "The gateway's store is unavailable: " + e.Message);
            return;
        }
        catch (Exception e)
        {
            logger.Unhandled(e, context.Request.Method, context.Request.Path);
            await WriteIfPossibleAsync(context, StatusCodes.Status500InternalServerError, "Internal error: " + e.Message);
            return;
        }

        var response = context.Response;
        if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && response.ContentType is null)
        {
            var message = response.StatusCode switch
            {
                404 => $"Not found: {context.Request.Method} {context.Request.Path}",
                405 => $"Method {context.Request.Method} is not allowed on {context.Request.Path}",
                _ => $"Request failed with status {response.StatusCode}",
            };
            await Api.WriteErrorAsync(context, response.StatusCode, message);
        }
    }

    private static async Task WriteIfPossibleAsync(HttpContext context, int status, string message)
    {
        if (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await Api.WriteErrorAsync(context, status, message);
        }
    }
}
