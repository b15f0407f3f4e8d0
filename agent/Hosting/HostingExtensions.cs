using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sandboxd.Auth;
using Sandboxd.Core;
using Sandboxd.Preview;
using Sandboxd.Processes;
using Sandboxd.Protocol;
using Sandboxd.State;

namespace Sandboxd.Hosting;

internal static class HostingExtensions
{
    /// <summary>
    /// The web application builder, with its content root at the binary's directory and configuration reload off: the
    /// defaults watch the working directory recursively for appsettings changes (a sandbox root can be huge — from
    /// "/" that was 40k inotify watches and 24 s to start).
    /// </summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
        return WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
    }

    /// <summary>Kestrel on the requested address, JSON metadata, logging to stderr, options from the command line.</summary>
    public static WebApplicationBuilder AddAgentHosting(this WebApplicationBuilder builder, AgentOptions options)
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

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            if (options.Host is "localhost")
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else if (IPAddress.TryParse(options.Host, out var address))
            {
                kestrel.Listen(address, options.Port);
            }
            else
            {
                kestrel.Listen(Dns.GetHostAddresses(options.Host).First(), options.Port);
            }
        });

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ProtocolJsonContext.Default));
        builder.Services.AddSingleton(options);
        // Servers stop with their own stop timeouts (10 s by default) at shutdown; leave room for that.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PublicUrls>();
        builder.Services.Configure<ProcessesOptions>(o => o.OutputCapBytes = options.OutputCapBytes);
        return builder;
    }

    /// <summary>The middleware order is the design: errors → CORS → preview proxy → sandbox context → routing → auth → endpoints.</summary>
    public static WebApplication UseAgentHosting(this WebApplication app)
    {
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.UseMiddleware<CorsMiddleware>();
        // No UseWebSockets: the agent does the handshake itself (WebSockets/WebSocketUpgrade: no OpenSSL).
        app.UsePreview();
        app.UseMiddleware<SandboxRoutingMiddleware>();
        app.UseRouting();
        app.UseMiddleware<AuthMiddleware>();
        return app;
    }

    /// <summary>Starts serving, prints the one ready line on stdout, and runs until SIGTERM/SIGINT.</summary>
    public static async Task<int> RunAgentAsync(this WebApplication app, AgentOptions options)
    {
        var limits = Sandboxd.Native.LibC.RaiseOpenFileLimit();
        try
        {
            await app.StartAsync();
        }
        catch (OperationCanceledException)
        {
            // SIGTERM/SIGINT arrived while the agent was still starting: a stop, not a crash.
            await app.StopAsync(CancellationToken.None);
            return 0;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = address.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        app.Services.GetRequiredService<PublicUrls>().ListenUrl = url;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("sandboxd");
        app.Services.GetRequiredService<StartupLog>().WriteTo(log);
        log.Serving(AgentVersion.Current, url, options.Root);
        if (limits.After != limits.Before)
        {
            log.OpenFileLimitRaised(limits.Before, limits.After);
        }
        else if (limits.After is > 0 and < 4096)
        {
            log.OpenFileLimitLow(limits.After);
        }

        if (options.NoAuth)
        {
            log.AuthDisabled(url);
        }

        await Console.Out.WriteLineAsync($"sandboxd ready {url}");
        await Console.Out.FlushAsync();
        await app.WaitForShutdownAsync();
        return 0;
    }

    public static StateStore CreateStateStore(AgentOptions options) => new(options.StateDir);
}
