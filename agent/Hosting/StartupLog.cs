namespace Sandboxd.Hosting;

/// <summary>A logger for what happens before the host exists (token resolution), writing to stderr like the rest.</summary>
internal static class StartupLog
{
    public static ILogger Create(AgentOptions options)
    {
        var factory = LoggerFactory.Create(b =>
        {
            b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
            b.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            b.SetMinimumLevel(Enum.TryParse<LogLevel>(options.LogLevel, true, out var level) ? level : LogLevel.Information);
        });
        return factory.CreateLogger("sandboxd");
    }
}
