using System.Net;

namespace Sandboxd.Client.Tests;

[Collection(GatewayCollection.Name)]
public sealed class GatewaySandboxTests(GatewayFixture fixture)
{
    [Fact(Timeout = 120_000)]
    public async Task A_created_sandbox_runs_a_command_through_its_client_and_destroy_stops_its_agent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = await fixture.CreateAsync(fixture.ClientA, null, ct);

        var result = await sandbox.Client.Run.CommandAsync("echo hello-$((40 + 2))", ct);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().Be("hello-42\n");
        sandbox.Id.Should().NotBeNullOrEmpty();
        sandbox.Provider.Should().NotBeNullOrEmpty();
        (await sandbox.DestroyAsync(ct)).Should().BeTrue();
        await fixture.WaitUntilGoneAsync(sandbox, ct);
        (await fixture.ClientA.GetAsync(sandbox.Id, ct)).Should().BeNull();
        (await fixture.ClientA.DestroyAsync(sandbox.Id, ct)).Should().BeFalse("destroying twice finds nothing the second time");
    }

    [Fact(Timeout = 120_000)]
    public async Task Create_options_reach_the_sandbox_and_come_back_in_its_description()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = GatewayFixture.Unique("opts");
        var options = new CreateGatewaySandboxRequest(
            Metadata: new Dictionary<string, string> { ["owner"] = "client-tests" },
            Envs: new Dictionary<string, string> { ["GREETING"] = "hi from envs" },
            Name: name,
            Namespace: "client-ns");

        await using var sandbox = await fixture.CreateAsync(fixture.ClientA, options, ct);

        (await sandbox.Client.Run.CommandAsync("printf %s \"$GREETING\"", ct)).Stdout.Should().Be("hi from envs");
        sandbox.Metadata!.Value.GetProperty("owner").GetString().Should().Be("client-tests");
        await using var found = await fixture.ClientA.FindAsync(name, "client-ns", ct);
        found!.Id.Should().Be(sandbox.Id);
        await using var got = await fixture.ClientA.GetAsync(sandbox.Id, ct);
        got!.Client.BaseUrl.Should().Be(sandbox.Client.BaseUrl);
        (await got.Client.Run.CommandAsync("true", ct)).ExitCode.Should().Be(0);
    }

    [Fact(Timeout = 120_000)]
    public async Task Servers_and_overlays_given_at_creation_come_up_in_the_sandbox_with_the_daemons_option_names()
    {
        var ct = TestContext.Current.CancellationToken;
        // Not under /tmp: a sandbox under bubblewrap has a /tmp of its own; the rest of the host is visible read-only.
        var template = Path.Combine("/var/tmp", GatewayFixture.Unique("sandboxd-gateway-template"));
        Directory.CreateDirectory(template);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(template, "index.html"), "from the template", ct);
            var options = new CreateGatewaySandboxRequest(
                Overlays: [new CreateOverlayRequest(template, "site", Strategy: "copy")],
                Servers: [new StartServerRequest("web", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1 --directory site",
                    RestartPolicy: "on-failure")]);

            await using var sandbox = await fixture.CreateAsync(fixture.ClientA, options, ct);

            var server = await Eventually.UntilAsync(() => sandbox.Client.Servers.GetAsync("web", ct), s => s.Port is not null && s.Status == "ready",
                TimeSpan.FromSeconds(60), "the server given at creation to be ready", ct);
            server.RestartPolicy.Should().Be("on-failure", "restart_policy reached the agent under the daemon's name");
            var page = await sandbox.Client.Run.CommandAsync($"python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{server.Port}/index.html').read().decode())\"", ct);
            page.Stdout.Should().Be("from the template\n", "stderr: {0}; overlays: {1}", page.Stderr,
                string.Join(", ", (await sandbox.Client.Overlays.ListAsync(ct)).Select(o => $"{o.Source} → {o.Target}: {o.CopyStatus} {o.CopyError}")));
            (await sandbox.DestroyAsync(ct)).Should().BeTrue();
        }
        finally
        {
            Directory.Delete(template, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Get_find_and_destroy_of_unknown_sandboxes_answer_not_found_as_values()
    {
        var ct = TestContext.Current.CancellationToken;

        (await fixture.ClientA.GetAsync("sb-unknown-" + GatewayFixture.Unique("x"), ct)).Should().BeNull();
        (await fixture.ClientA.FindAsync(GatewayFixture.Unique("nobody"), cancellationToken: ct)).Should().BeNull();
        (await fixture.ClientA.FindAsync(GatewayFixture.Unique("nobody"), "elsewhere", ct)).Should().BeNull();
        (await fixture.ClientA.DestroyAsync("sb-unknown-" + GatewayFixture.Unique("x"), ct)).Should().BeFalse();
        var extend = () => fixture.ClientA.ExtendAsync("sb-unknown-" + GatewayFixture.Unique("x"), TimeSpan.FromMinutes(1), ct);
        (await extend.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 180_000)]
    public async Task FindOrCreate_twice_by_name_and_namespace_returns_the_same_sandbox_and_destroy_frees_the_name()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = GatewayFixture.Unique("proj");

        await using var first = fixture.Track(fixture.ClientA, await fixture.ClientA.FindOrCreateAsync(name, "client-ns", cancellationToken: ct));
        await using var second = await fixture.ClientA.FindOrCreateAsync(name, "client-ns", cancellationToken: ct);
        await using var otherNamespace = fixture.Track(fixture.ClientA, await fixture.ClientA.FindOrCreateAsync(name, cancellationToken: ct));

        second.Id.Should().Be(first.Id);
        first.Name.Should().Be(name);
        first.Namespace.Should().Be("client-ns");
        otherNamespace.Id.Should().NotBe(first.Id, "the same name in another namespace is another sandbox");
        otherNamespace.Namespace.Should().Be(GatewayClient.DefaultNamespace);
        await second.Client.Files.WriteTextAsync("mark.txt", "same", ct);
        (await first.Client.Files.ReadTextAsync("mark.txt", ct)).Should().Be("same");
        (await first.DestroyAsync(ct)).Should().BeTrue();
        (await fixture.ClientA.FindAsync(name, "client-ns", ct)).Should().BeNull();
    }

    [Fact(Timeout = 180_000)]
    public async Task Concurrent_findOrCreate_calls_for_one_name_all_get_the_one_sandbox()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = GatewayFixture.Unique("race");

        var sandboxes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => fixture.ClientA.FindOrCreateAsync(name, "client-race", cancellationToken: ct)));
        try
        {
            fixture.Track(fixture.ClientA, sandboxes[0]);
            sandboxes.Select(s => s.Id).Distinct().Should().ContainSingle();
            (await sandboxes[3].Client.Run.CommandAsync("echo ok", ct)).Stdout.Should().Be("ok\n");
        }
        finally
        {
            foreach (var sandbox in sandboxes)
            {
                await sandbox.DisposeAsync();
            }
        }

        (await fixture.ClientA.DestroyAsync(sandboxes[0].Id, ct)).Should().BeTrue();
    }

    [Fact(Timeout = 180_000)]
    public async Task Find_while_findOrCreate_is_creating_gives_nothing_or_the_ready_sandbox_never_a_half_created_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = GatewayFixture.Unique("pending");
        var creating = fixture.ClientA.FindOrCreateAsync(name, "client-pending", cancellationToken: ct);
        var seen = new List<string>();

        while (!creating.IsCompleted)
        {
            await using var found = await fixture.ClientA.FindAsync(name, "client-pending", ct);
            if (found is not null)
            {
                (await found.Client.Run.CommandAsync("echo ready", ct)).Stdout.Should().Be("ready\n");
                seen.Add(found.Id);
            }

            await Task.Delay(10, ct);
        }

        await using var created = fixture.Track(fixture.ClientA, await creating);
        seen.Should().AllBe(created.Id);
        await using var byId = await fixture.ClientA.GetAsync(created.Id, ct);
        byId!.Id.Should().Be(created.Id);
    }

    [Fact(Timeout = 180_000)]
    public async Task Extend_keeps_a_sandbox_alive_past_its_timeout_while_one_not_extended_expires()
    {
        var ct = TestContext.Current.CancellationToken;
        var shortLived = new CreateGatewaySandboxRequest(TimeoutMs: 4_000);
        await using var extended = await fixture.CreateAsync(fixture.ClientA, shortLived, ct);
        await using var expiring = await fixture.CreateAsync(fixture.ClientA, shortLived, ct);

        await extended.ExtendAsync(TimeSpan.FromMinutes(5), ct);

        await Eventually.UntilAsync(async () => await fixture.ClientA.GetAsync(expiring.Id, ct) is null, TimeSpan.FromSeconds(60),
            "the sandbox that was not extended to expire", ct);
        await fixture.WaitUntilGoneAsync(expiring, ct);
        await using var stillThere = await fixture.ClientA.GetAsync(extended.Id, ct);
        stillThere.Should().NotBeNull("the extended sandbox outlives its first timeout");
        (await extended.Client.Run.CommandAsync("echo alive", ct)).Stdout.Should().Be("alive\n");
    }
}
