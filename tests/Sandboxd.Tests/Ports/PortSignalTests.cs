using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Ports;

/// <summary>
/// The published agent's port scanner, seen through the signals channel: a background process listening on IPv4 and
/// IPv6 loopback is announced with each address, among hundreds of TIME_WAIT sockets, and both closes are announced.
/// </summary>
public sealed class PortSignalTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Func<LiveFrame, bool> Port(int port, string type) =>
        f => f.Is("signal", "signals") && f.Str("signal") == "port" && f.Num("port") == port && f.Str("type") == type;

    [Fact(Timeout = 90_000)]
    public async Task Listeners_on_v4_and_v6_are_announced_and_their_close_too_with_many_TIME_WAIT_sockets_present()
    {
        var ct = TestContext.Current.CancellationToken;
        MakeTimeWaitSockets(300);
        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct);
        (await fixture.Client.PostJsonAsync("/signals/start", "{}", ct)).ShouldHaveStatus(200);
        await socket.SubscribeAsync("signals", ct);
        var v4 = FreePort(IPAddress.Loopback);
        var v6 = FreePort(IPAddress.IPv6Loopback);

        const string script = "import socket,sys,time\\n"
            + "a=socket.socket(socket.AF_INET);a.bind((\"127.0.0.1\",int(sys.argv[1])));a.listen()\\n"
            + "b=socket.socket(socket.AF_INET6);b.bind((\"::1\",int(sys.argv[2])));b.listen()\\n"
            + "time.sleep(600)";
        var started = await fixture.Client.RunAsync(new Sandboxd.Protocol.RunCommandRequest(
            $"printf '{script}' > listen.py; /usr/bin/python3 listen.py {v4} {v6} >/dev/null 2>&1 & echo $!"), ct);
        var pid = int.Parse(started.Stdout.Trim(), CultureInfo.InvariantCulture);
        try
        {
            var open4 = await socket.WaitForAsync(Port(v4, "open"), Bound, $"port {v4} open", ct);
            var open6 = await socket.WaitForAsync(Port(v6, "open"), Bound, $"port {v6} open", ct);
            open4.Str("address").Should().Be("127.0.0.1");
            open6.Str("address").Should().Be("::1");
            open6.Num("pid").Should().Be(pid);

            Posix.Kill(pid, Posix.SIGKILL).Should().BeTrue();
            await socket.WaitForAsync(Port(v4, "close"), Bound, $"port {v4} close", ct);
            await socket.WaitForAsync(Port(v6, "close"), Bound, $"port {v6} close", ct);
        }
        finally
        {
            Posix.Kill(pid, Posix.SIGKILL);
            await fixture.Client.PostJsonAsync("/signals/stop", "{}", ct);
        }
    }

    /// <summary>Client closes first: each connection leaves a TIME_WAIT socket in the namespace the agent scans.</summary>
    private static void MakeTimeWaitSockets(int count)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(512);
        for (var i = 0; i < count; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var server = listener.Accept();
            client.Close();
            server.Close();
        }
    }
}
