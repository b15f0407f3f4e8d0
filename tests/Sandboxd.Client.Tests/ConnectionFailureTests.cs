using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Sandboxd.Client.Tests;

public sealed class ConnectionFailureTests
{
    [Fact(Timeout = 120_000)]
    public async Task An_unreachable_agent_is_a_SandboxdException_without_a_status()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // a port nobody listens on
        await using var client = new SandboxClient(new Uri($"http://127.0.0.1:{port}"), "token");

        var act = () => client.Info.HealthAsync(ct);

        var error = (await act.Should().ThrowAsync<SandboxdException>()).Which;
        error.StatusCode.Should().BeNull();
        error.Message.Should().Contain("could not reach the agent");
    }

    [Fact(Timeout = 120_000)]
    public async Task Open_streams_fail_explicitly_once_the_agent_stays_gone_longer_than_the_give_up_time()
    {
        var ct = TestContext.Current.CancellationToken;
        var agent = await Agent.StartAsync(cancellationToken: ct);
        await using (agent)
        {
            await using var client = agent.Client(new SandboxClientOptions { ReconnectGiveUpAfter = TimeSpan.FromSeconds(2) });
            await using var terminal = await client.Terminals.OpenPtyAsync(cancellationToken: ct);
            await terminal.WriteAsync("echo al\"\"ive\n", ct);
            var seen = new System.Text.StringBuilder();
            var buffer = new byte[4096];
            while (!seen.ToString().Contains("alive", StringComparison.Ordinal))
            {
                var count = await terminal.Stream.ReadAsync(buffer, ct);
                count.Should().BePositive();
                seen.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, count));
            }

            var watch = Stopwatch.StartNew();
            await Posix.SignalAsync(agent.Pid, "KILL");

            var read = async () =>
            {
                while (await terminal.Stream.ReadAsync(buffer, ct) > 0)
                {
                }
            };
            var error = (await read.Should().ThrowAsync<SandboxdException>().WaitAsync(TimeSpan.FromSeconds(60), ct)).Which;
            error.StatusCode.Should().BeNull();
            error.Message.Should().Contain("could not reconnect");
            watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30));
        }
    }
}
