namespace Sandboxd.Preview;

internal static class PreviewFeature
{
    public static IServiceCollection AddPreview(this IServiceCollection services)
    {
        services.AddSingleton<PreviewRouting>();
        services.AddSingleton<PreviewProxy>();
        return services;
    }

    public static IApplicationBuilder UsePreview(this IApplicationBuilder app) => app.UseMiddleware<PreviewMiddleware>();
}
