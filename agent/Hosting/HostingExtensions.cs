using System.Net;
using Microsoft.AspNetCore.Connections;
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

        var gate = new ConnectionGate(TimeProvider.System, options);
        builder.Services.AddSingleton(gate);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // For clients that authenticated; the ConnectionGate closes idle unauthenticated connections much sooner.
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            void Gate(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) => listen.Use(gate.Wrap);
            if (options.Host is "localhost")
            {
                kestrel.ListenLocalhost(options.Port, Gate);
            }
            else if (IPAddress.TryParse(options.Host, out var address))
            {
                kestrel.Listen(address, options.Port, Gate);
            }
            else
            {
                kestrel.Listen(Dns.GetHostAddresses(options.Host).First(), options.Port, Gate);
            }
        });

        // 2 MiB, not 64 KiB, of sent-but-unsent bytes per connection before a writer waits: with 64 KiB a large download
        // (raw GET, preview) ping-pongs between the writer and the socket's sender; 2 MiB lets them overlap (raw GET
        // 0.5x → 0.9x nginx, docs/adr/0014-raw-download.md). Only a connection whose reader is slower than its writer
        // holds that much.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>(o => o.MaxWriteBufferSize = 2 * 1024 * 1024);

        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, TransportMemoryPoolFactory>();

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ProtocolJsonContext.Default));
        builder.Services.AddSingleton(options);
        // Servers stop with their own stop timeouts (10 s by default) at shutdown; leave room for that.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PublicUrls>();
        builder.Services.Configure<ProcessesOptions>(o =>
        {
            o.OutputCapBytes = options.OutputCapBytes;
            o.LedgerPath = Path.Combine(options.StateDir, "children");
            o.ServerLimits = (options.ServerMemoryMb, options.ServerPidsMax);
        });
        return builder;
    }

    /// <summary>
    /// The middleware order is the design: errors → connection activity → (no-auth: Host/Origin guard) → preview proxy →
    /// CORS → sandbox context → routing → auth → endpoints. Previews come before CORS: a previewed app answers its own
    /// OPTIONS and CORS (docs/security.md).
    /// </summary>
    public static WebApplication UseAgentHosting(this WebApplication app)
    {
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.UseMiddleware<ConnectionActivityMiddleware>();
        if (app.Services.GetRequiredService<AgentOptions>().NoAuth)
        {
            app.UseMiddleware<NoAuthGuardMiddleware>();
        }

        // No UseWebSockets: the agent does the handshake itself (WebSockets/WebSocketUpgrade: no OpenSSL).
        app.UsePreview();
        app.UseMiddleware<CorsMiddleware>();
        app.UseMiddleware<SandboxRoutingMiddleware>();
        app.UseRouting();
        app.UseMiddleware<RequestMetricsMiddleware>();
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

        // The ready line and the log say the real bind address (0.0.0.0 when bound to every interface); the URL the
        // agent hands out for {public_url} is a connectable one.
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = address;
        app.Services.GetRequiredService<PublicUrls>().ListenUrl =
            address.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
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

        if (Sandboxd.Native.WorkloadUser.Current is { Switches: true } runAs)
        {
            log.RunAs(runAs.Name!, runAs.Uid);
        }
        else
        {
            log.NotIsolated(Sandboxd.Native.WorkloadUser.Current.Reason ?? "");
        }

        if (Sandboxd.Native.CgroupHost.Current is { CanLimitMemory: true } cgroups)
        {
            log.LimitsAvailable(cgroups.Version!, cgroups.WorkMemoryDir!);
        }
        else
        {
            log.LimitsUnavailable(Sandboxd.Native.CgroupHost.Current.Reason ?? "");
        }

        await Console.Out.WriteLineAsync($"sandboxd ready {url}");
        await Console.Out.FlushAsync();
        await app.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>The state directory, locked for this agent; null with a sentence on stderr when another agent holds it.</summary>
    /// <summary>Sets the workload's user from <c>--run-as</c> before anything is spawned or written; false (said on stderr) for a bad user.</summary>
    public static bool ConfigureRunAs(AgentOptions options)
    {
        try
        {
            Sandboxd.Native.WorkloadUser.Configure(options.RunAs);
            return true;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"sandboxd: {e.Message}");
            return false;
        }
    }

    public static StateStore? OpenStateStore(AgentOptions options)
    {
        var state = new StateStore(options.StateDir);
        if (state.TryLock() is { } error)
        {
            Console.Error.WriteLine($"sandboxd: {error}");
            return null;
        }

        return state;
    }
}
