using System.Security.Cryptography;

namespace Sandboxd.Client.Tests;

/// <summary>
/// Several sandboxd-gateway processes on one PostgreSQL database (<c>--store postgres://…</c>, ADR 0010), against a
/// real server the tests start (<see cref="PostgresServer"/>), each test on a database of its own.
/// </summary>
public sealed class GatewayPostgresTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly string _key = "pg-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private readonly List<GatewayProcess> _gateways = [];
    private PostgresServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await PostgresServer.StartOrSkipAsync();

    public async ValueTask DisposeAsync()
    {
        var problems = new List<string>();
        foreach (var gateway in _gateways)
        {
            try
            {
                await gateway.DisposeAsync();
            }
            catch (InvalidOperationException e)
            {
                problems.Add(e.Message);
            }
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join('\n', problems));
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_sandbox_created_through_one_gateway_is_got_found_used_and_destroyed_through_another()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("shared");
        var (a, b) = (await StartAsync(url), await StartAsync(url));
        using var clientA = a.Client(_key);
        using var clientB = b.Client(_key);
        var name = GatewayFixture.Unique("shared");

        await using var created = await clientA.CreateAsync(new CreateGatewaySandboxRequest(Name: name, Namespace: "pg", Metadata: new Dictionary<string, string> { ["via"] = "a" }), ct);
        var pids = HostProcesses.WithEnvironment("COMPUTESDK_SANDBOX_ID", created.Id);
        pids.Should().NotBeEmpty();

        await using var got = await clientB.GetAsync(created.Id, ct);
        got.Should().NotBeNull("gateway B reads the record gateway A wrote");
        got!.Client.BaseUrl.Should().Be(created.Client.BaseUrl);
        got.Metadata!.Value.GetProperty("via").GetString().Should().Be("a");
        (await got.Client.Run.CommandAsync("echo via-b", ct)).Stdout.Should().Be("via-b\n");
        await using var found = await clientB.FindOrCreateAsync(name, "pg", cancellationToken: ct);
        found.Id.Should().Be(created.Id, "findOrCreate on B finds A's sandbox instead of making a second");

        (await clientB.DestroyAsync(created.Id, ct)).Should().BeTrue("B stops an agent A started (pid + start time are host-wide)");
        await Eventually.UntilAsync(() => !pids.Any(HostProcesses.IsAlive), Bound, "the agent A started to end after B destroyed it", ct);
        (await clientA.GetAsync(created.Id, ct)).Should().BeNull("A sees it gone");
        (await clientA.DestroyAsync(created.Id, ct)).Should().BeFalse();
        (await _server.SqlAsync(PostgresServer.DatabaseOf(url), $"SELECT status FROM sandboxes WHERE id = '{created.Id}'")).Should().Be("gone");
    }

    [Fact(Timeout = 180_000)]
    public async Task Concurrent_findOrCreate_of_one_name_spread_over_two_gateways_makes_one_sandbox()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("foc");
        GatewayProcess[] gateways = [await StartAsync(url), await StartAsync(url)];
        var clients = gateways.Select(g => g.Client(_key)).ToArray();
        var name = GatewayFixture.Unique("once");

        var calls = Enumerable.Range(0, 8).Select(i => clients[i % 2].FindOrCreateAsync(name, "race", cancellationToken: ct));
        var sandboxes = await Task.WhenAll(calls);

        sandboxes.Select(s => s.Id).Distinct().Should().ContainSingle("eight findOrCreate calls over two gateways make one sandbox");
        var database = PostgresServer.DatabaseOf(url);
        (await _server.SqlAsync(database, $"SELECT count(*) FROM sandboxes WHERE name = '{name}'")).Should().Be("1", "no second record was even written");
        var id = sandboxes[0].Id;
        foreach (var sandbox in sandboxes)
        {
            await sandbox.DisposeAsync();
        }

        (await clients[1].DestroyAsync(id, ct)).Should().BeTrue();
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task An_expired_sandbox_is_destroyed_by_one_gateway_and_the_sweep_lease_moves_when_its_holder_is_killed()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("lease");
        var database = PostgresServer.DatabaseOf(url);
        var (a, b) = (await StartAsync(url), await StartAsync(url));
        using var clientA = a.Client(_key);
        using var clientB = b.Client(_key);

        // Expiry: created on B, expiring in 2 s; exactly one of the two gateways destroys it.
        var first = await clientB.CreateAsync(new CreateGatewaySandboxRequest(TimeoutMs: 2_000), ct);
        var firstPids = HostProcesses.WithEnvironment("COMPUTESDK_SANDBOX_ID", first.Id);
        await first.DisposeAsync();
        await Eventually.UntilAsync(async () => await clientA.GetAsync(first.Id, ct) is null, Bound, "the sandbox to expire", ct);
        await Eventually.UntilAsync(() => !firstPids.Any(HostProcesses.IsAlive), Bound, "its agent to end", ct);
        var expiredLine = $"Sandbox {first.Id} gone: expired";
        await Eventually.UntilAsync(() => a.Stderr.Contains(expiredLine, StringComparison.Ordinal) || b.Stderr.Contains(expiredLine, StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the expiry to be logged", ct);
        new[] { a, b }.Count(g => g.Stderr.Contains(expiredLine, StringComparison.Ordinal)).Should().Be(1, "one gateway destroys it, once");
        (await _server.SqlAsync(database, $"SELECT gone_reason FROM sandboxes WHERE id = '{first.Id}'")).Should().Be("expired");

        // The lease: one holder; kill -9 it, and the other takes over (within the 5 s lease plus a renewal) and expires the next one.
        var holders = new[] { a, b }.Where(g => g.Stderr.Contains("took the sweep lease", StringComparison.Ordinal)).ToList();
        holders.Should().ContainSingle("exactly one gateway holds the sweep lease");
        var (holder, survivor) = holders[0] == a ? (a, b) : (b, a);
        var holderId = await _server.SqlAsync(database, "SELECT holder FROM leases WHERE name = 'sweep'");
        await holder.KillAsync();
        using var client = survivor.Client(_key);
        var second = await client.CreateAsync(new CreateGatewaySandboxRequest(TimeoutMs: 1_000), ct);
        var secondPids = HostProcesses.WithEnvironment("COMPUTESDK_SANDBOX_ID", second.Id);
        await second.DisposeAsync();
        await Eventually.UntilAsync(async () => await client.GetAsync(second.Id, ct) is null, Bound, "the survivor to expire the sandbox after the holder was killed", ct);
        await Eventually.UntilAsync(() => !secondPids.Any(HostProcesses.IsAlive), Bound, "its agent to end", ct);
        survivor.Stderr.Should().Contain("took the sweep lease");
        // A destroying record already answers 404; the "gone" line follows the stop.
        await Eventually.UntilAsync(() => survivor.Stderr.Contains($"Sandbox {second.Id} gone: expired", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the survivor to log the expiry", ct);
        (await _server.SqlAsync(database, "SELECT holder FROM leases WHERE name = 'sweep'")).Should().NotBe(holderId, "the lease moved");
    }

    [Fact(Timeout = 180_000)]
    public async Task Gateways_starting_together_on_an_empty_database_migrate_it_once_and_both_serve()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("migrate");

        var started = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => StartAsync(url)));

        var database = PostgresServer.DatabaseOf(url);
        var versions = await _server.SqlAsync(database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version");
        // Version 2 is the docker provider's engine column: every version once, in order.
        versions.Should().Be("1,2", "each version is applied once (the advisory lock serialises the starts)");
        using var client = started[2].Client(_key);
        (await client.FindAsync("nothing-here", cancellationToken: ct)).Should().BeNull("the last one to start serves on the migrated schema");
    }

    [Fact(Timeout = 180_000)]
    public async Task While_the_database_is_down_the_gateway_answers_503_json_and_serves_again_when_it_is_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("outage");
        var gateway = await StartAsync(url);
        using var http = new HttpClient { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("X-ComputeSDK-API-Key", _key);

        await _server.StopServerAsync();
        using (var down = await http.GetAsync("/v1/sandboxes/sbx_nothere", ct))
        {
            ((int)down.StatusCode).Should().Be(503);
            var body = await down.Content.ReadAsStringAsync(ct);
            body.Should().Contain("\"success\":false").And.Contain("store is unavailable");
        }

        await _server.StartServerAsync();
        await Eventually.UntilAsync(async () =>
        {
            using var back = await http.GetAsync("/v1/sandboxes/sbx_nothere", ct);
            return (int)back.StatusCode == 404;
        }, Bound, "the gateway to answer 404 from the database again", ct);
        using var client = gateway.Client(_key);
        await using var sandbox = await client.CreateAsync(null, ct);
        (await sandbox.Client.Run.CommandAsync("echo back", ct)).Stdout.Should().Be("back\n");
        (await sandbox.DestroyAsync(ct)).Should().BeTrue();
    }

    [Fact(Timeout = 120_000)]
    public async Task A_gateway_whose_database_is_unreachable_or_newer_than_it_says_so_and_exits_1()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = await _server.CreateDatabaseAsync("refuse");
        var closed = url.Replace($":{_server.Port}/", ":1/", StringComparison.Ordinal);
        var (code, stderr) = await RunGatewayAsync(closed, ct);
        code.Should().Be(1);
        stderr.Should().Contain("sandboxd-gateway: cannot open the store: ");

        await StartAsync(url); // migrates it
        await _server.SqlAsync(PostgresServer.DatabaseOf(url), "INSERT INTO schema_version (version) VALUES (99)");
        (code, stderr) = await RunGatewayAsync(url, ct);
        code.Should().Be(1);
        stderr.Should().Contain("schema version 99, newer than this gateway knows");
    }

    [Theory(Timeout = 60_000)]
    [InlineData("postgres://u:p@host:notaport/db")]
    [InlineData("postgres://u:p@host/db?nosuchkeyword=1")]
    [InlineData("sqlite:")]
    [InlineData("Hots=x;Database=y")]
    public async Task A_malformed_store_is_refused_at_start_with_a_message(string store)
    {
        var (code, stderr) = await RunGatewayAsync(store, TestContext.Current.CancellationToken);

        code.Should().Be(2);
        stderr.Should().StartWith("sandboxd-gateway: --store: ");
        stderr.Should().NotContain(":p@", "the password is not echoed");
    }

    /// <summary>A gateway expected to exit by itself: its exit code and stderr.</summary>
    private async Task<(int Code, string Stderr)> RunGatewayAsync(string store, CancellationToken ct)
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-gateway-refused-").FullName;
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo(GatewayProcess.GatewayPath,
                ["start", "--port", "0", "--state-dir", stateDir, "--api-key", _key, "--agent", GatewayProcess.AgentPath, "--store", store])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var process = System.Diagnostics.Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = await process.StandardError.ReadToEndAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            (await stdout).Should().NotContain("ready", "a gateway without its store does not serve");
            return (process.ExitCode, stderr);
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    private async Task<GatewayProcess> StartAsync(string url)
    {
        var gateway = await GatewayProcess.StartAsync([_key], CancellationToken.None, extraArguments: ["--store", url]);
        lock (_gateways)
        {
            _gateways.Add(gateway);
        }

        return gateway;
    }
}
