namespace Sandboxd.Hosting;

/// <summary>Answers browser preflights on every path and marks every response as readable cross-origin (spec §2.7).</summary>
internal sealed class CorsMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        var headers = context.Response.Headers;
        headers.AccessControlAllowOrigin = string.IsNullOrEmpty(origin) ? "*" : origin;
        if (!string.IsNullOrEmpty(origin))
        {
            headers.Vary = "Origin";
        }

        if (HttpMethods.IsOptions(context.Request.Method))
        {
            headers.AccessControlAllowMethods = "GET, POST, PATCH, DELETE, HEAD, OPTIONS";
            headers.AccessControlAllowHeaders = "Authorization, Content-Type, X-Request-Timeout";
            headers.AccessControlMaxAge = "600";
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }

        return next(context);
    }
}
