using Sandboxd.Auth;
using Sandboxd.Core;
using Sandboxd.Env;
using Sandboxd.Files;
using Sandboxd.Hosting;
using Sandboxd.Info;
using Sandboxd.Live;
using Sandboxd.Metrics;
using Sandboxd.Overlays;
using Sandboxd.Ports;
using Sandboxd.Preview;
using Sandboxd.ProcessList;
using Sandboxd.Processes;
using Sandboxd.Run;
using Sandboxd.Sandboxes;
using Sandboxd.Servers;
using Sandboxd.Signals;
using Sandboxd.Terminals;
using Sandboxd.Watch;
using Sandboxd.Workspace;

var (verb, options, error) = CommandLine.Parse(args);
switch (verb)
{
    case Verb.Help:
        Console.WriteLine(CommandLine.Usage);
        return 0;
    case Verb.Version:
        Console.WriteLine($"sandboxd {AgentVersion.Current}");
        return 0;
    case Verb.Health:
        return await HealthCheck.RunAsync(args);
    case Verb.Client:
        return await Sandboxd.Cli.ClientCommands.RunAsync(args);
    case Verb.Invalid:
        Console.Error.WriteLine($"sandboxd: {error}");
        return 2;
}

if (!HostingExtensions.ConfigureRunAs(options))
{
    return 2;
}

if (HostingExtensions.OpenStateStore(options) is not { } state)
{
    return 1; // another agent owns the state directory (said on stderr)
}

var builder = HostingExtensions.CreateBuilder();
builder.AddAgentHosting(options);
builder.Services.AddAuth(options, state, new StartupLog()).AddProcesses().AddSandboxes().AddLive().AddTerminals().AddRun().AddEnv().AddWatch().AddPorts().AddSignals().AddServers().AddPreview().AddOverlays().AddBootSetup().AddAgentMetrics();

var app = builder.Build();
app.UseAgentHosting();
app.MapInfo();
app.MapAuth();
app.MapLive();
app.MapRun();
app.MapTerminals();
app.MapFiles();
app.MapEnv();
app.MapWatch();
app.MapSignals();
app.MapServers();
app.MapOverlays();
app.MapSandboxes();
app.MapWorkspace();
app.MapProcessList();
app.MapMetrics(options);
return await app.RunAgentAsync(options);
