using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Sandboxes;
using Sandboxd.Gateway.Snapshots;

var (verb, options, error) = CommandLine.Parse(args);
switch (verb)
{
    case Verb.Help:
        Console.WriteLine(CommandLine.Usage);
        return 0;
    case Verb.Version:
        Console.WriteLine($"sandboxd-gateway {CommandLine.Version}");
        return 0;
    case Verb.Invalid:
        Console.Error.WriteLine($"sandboxd-gateway: {error}");
        return 2;
}

Directory.CreateDirectory(options.StateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
var builder = HostingExtensions.CreateBuilder();
builder.AddGatewayHosting(options);
builder.Services.AddSandboxes().AddSnapshots();

var app = builder.Build();
var api = app.UseGatewayHosting();
api.MapSandboxes();
api.MapSnapshots();
return await app.RunGatewayAsync(options);
