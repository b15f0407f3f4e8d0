using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Servers;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Servers;

/// <summary>
/// Preallocated ports are leased host-wide between the agents of one user (docs/adr/0020-port-leases.md): a port another
/// agent holds is never handed out, even while nothing listens on it yet. This test process takes the lease the way
/// another agent would (the same class, the same /tmp/sandboxd-ports-UID directory).
/// </summary>
public sealed class PortLeaseTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private AgentClient Client => fixture.Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task A_port_leased_by_another_agent_is_skipped_and_a_strict_request_for_it_fails_until_the_lease_ends()
    {
        var port = FreePort();
        PortLease.TryTake(port, out var lease).Should().BeTrue("nobody holds {0} yet", port);
        lease.Should().NotBeNull("leases work on this machine ({0})", PortLease.Directory ?? "no usable directory");
        PortLease.TryTake(port, out var second).Should().BeFalse("a lease is exclusive, also within one process");
        second.Should().BeNull();

        try
        {
            var moved = Slug("leased");
            await StartAsync(Client, new JsonObject { ["slug"] = moved, ["start"] = "echo PORT=$PORT; exec sleep 300", ["port"] = port, ["stop_timeout_ms"] = 1000 }, Ct);
            (await GivenPortAsync(moved)).Should().BeGreaterThan(port, "{0} is free but leased by another agent", port);

            var strict = Slug("leased-strict");
            await StartAsync(Client, new JsonObject { ["slug"] = strict, ["start"] = "exec sleep 300", ["port"] = port, ["strict_port"] = true }, Ct);
            var failed = await WaitForStatusAsync(Client, strict, "failed", Long, Ct);
            failed.GetProperty("failure_reason").GetString().Should().Contain("port in use");
            (await Client.DeleteAsync($"/servers/{moved}", Ct)).ShouldHaveStatus(204);
            (await Client.DeleteAsync($"/servers/{strict}", Ct)).ShouldHaveStatus(204);
        }
        finally
        {
            lease!.Dispose();
        }

        // The agent's own lease on a server's port ends with the server's run, and is then anyone's again.
        var own = Slug("own");
        await StartAsync(Client, new JsonObject { ["slug"] = own, ["start"] = "echo PORT=$PORT; exec sleep 300", ["port"] = port, ["strict_port"] = true, ["stop_timeout_ms"] = 1000 }, Ct);
        (await GivenPortAsync(own)).Should().Be(port);
        PortLease.TryTake(port, out var whileRunning).Should().BeFalse("the agent holds the lease while its server runs on {0}", port);
        whileRunning.Should().BeNull();
        (await Client.DeleteAsync($"/servers/{own}", Ct)).ShouldHaveStatus(204);
        await Eventually.UntilAsync(() =>
        {
            var free = PortLease.TryTake(port, out var after);
            after?.Dispose();
            return free;
        }, Long, "the agent's lease to end with its server", Ct);
    }

    /// <summary>The PORT the server's program was given (it prints it first).</summary>
    private async Task<int> GivenPortAsync(string slug)
    {
        var logs = await Eventually.UntilAsync(() => LogsAsync(Client, slug, "stdout", Ct), l => l.Contains("PORT=", StringComparison.Ordinal), Long, "the PORT line", Ct);
        return int.Parse(logs.Split("PORT=")[1].Trim().Split('\n')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
