using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sandboxd.Gateway.Auth;
using Sandboxd.Gateway.Protocol;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Hosting;

internal static class HostingExtensions
{
    /// <summary>The agent's conventions: content root at the binary's directory, no config reload watchers.</summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
        return WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
    }

    /// <summary>Kestrel on the requested address, source-generated JSON, logs on stderr, the store and the keys.</summary>
    public static WebApplicationBuilder AddGatewayHosting(this WebApplicationBuilder builder, GatewayOptions options)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(Enum.TryParse<LogLevel>(options.LogLevel, ignoreCase: true, out var level) ? level : LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Gateway calls are small; proxied agent calls (file uploads) are limited by the agent itself.
            kestrel.Limits.MaxRequestBodySize = options.PublicUrl is null ? 1024 * 1024 : null;
            if (options.Host is "localhost")
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else
            {
                kestrel.Listen(IPAddress.TryParse(options.Host, out var address) ? address : Dns.GetHostAddresses(options.Host)[0], options.Port);
            }
        });

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, GatewayJsonContext.Default));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<Proxy.SandboxProxy>();
        builder.Services.AddSingleton(StoreLocation.Open(options.Store, options.StateDir, options.InstanceId, TimeProvider.System));
        return builder;
    }

    /// <summary>Errors → routing; the <c>/v1</c> group carries the API-key filter.</summary>
    public static RouteGroupBuilder UseGatewayHosting(this WebApplication app)
    {
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.UseMiddleware<Proxy.ProxyMiddleware>();
        app.MapGet("/health", static () => TypedResults.Json(new SuccessResponse(), GatewayJsonContext.Default.SuccessResponse));
        return app.MapGroup("/v1").AddEndpointFilter<ApiKeyFilter>();
    }

    /// <summary>Starts serving (after the reconciler ran), prints the one ready line on stdout, runs until SIGTERM/SIGINT.</summary>
    public static async Task<int> RunGatewayAsync(this WebApplication app, GatewayOptions options)
    {
        try
        {
            await app.StartAsync();
        }
        catch (OperationCanceledException)
        {
            await app.StopAsync(CancellationToken.None);
            return 0;
        }
        catch (Exception e) when (e is System.Data.Common.DbException or Store.StoreException)
        {
            // The store cannot be opened or migrated (PostgreSQL down, wrong password, a newer schema): one line, exit 1.
            await Console.Error.WriteLineAsync($"sandboxd-gateway: cannot open the store: {e.Message}");
            return 1;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = address.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("sandboxd-gateway");
        log.Serving(CommandLine.Version, url, options.StateDir, options.Provider == "docker" ? $"docker image {options.Docker.Image}" : options.AgentPath!, app.Services.GetRequiredService<ApiKeys>().Count);
        await Console.Out.WriteLineAsync($"sandboxd-gateway ready {url}");
        await Console.Out.FlushAsync();
        await app.WaitForShutdownAsync();
        return 0;
    }
}
