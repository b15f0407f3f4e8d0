using System.Net;
using System.Net.Sockets;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>A gateway in one-origin mode: <c>--public-url http://127.0.0.1:P</c> on port P, so every sandbox URL it
/// hands out is <c>http://127.0.0.1:P/sandboxes/&lt;id&gt;</c>, served through the gateway.</summary>
public sealed class ProxiedGatewayFixture : GatewayFixture
{
    protected override Task<GatewayProcess> StartGatewayAsync(IReadOnlyList<string> apiKeys)
    {
        // --public-url needs the port before the gateway binds it: take a free one and hand it over (a short race with
        // other processes binding ports, acceptable in tests).
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        probe.Stop();
        return GatewayProcess.StartAsync(apiKeys, CancellationToken.None, port, ["--public-url", "http://127.0.0.1:" + port]);
    }
}
