using System.Text.Json.Nodes;

namespace Sandboxd.Client.Tests;

/// <summary>
/// <c>--provider docker</c> over two real engines (a: bridge, published ports; b: <c>--bridge none</c>, host
/// networking): placement, labels, limits, the token's delivery, snapshots, and an engine going down and up.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class GatewayDockerTests(DockerEngines engines)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact(Timeout = 300_000)]
    public async Task New_sandboxes_go_to_the_healthy_engine_with_most_free_capacity_and_destroy_removes_their_container()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines);
        var placed = new List<JsonNode>();
        for (var i = 0; i < 3; i++)
        {
            placed.Add(await gateway.CreateAsync(new JsonObject { ["envs"] = new JsonObject { ["FOO"] = $"bar{i}" } }));
        }

        // a has capacity 2, b 3: b (3 free) → a (2 vs 2, ties go to the first name) → b (1 vs 2).
        placed.Select(s => s["engine"]!.GetValue<string>()).Should().Equal("b", "a", "b");
        foreach (var (sandbox, i) in placed.Select((s, i) => (s, i)))
        {
            sandbox["provider"]!.GetValue<string>().Should().Be("docker");
            sandbox["status"]!.GetValue<string>().Should().Be("ready");
            var id = sandbox["sandboxId"]!.GetValue<string>();
            var container = await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + id);
            container.Should().NotBeNull("the record names the engine that holds the container");
            container!["Config"]!["Labels"]!["sandboxd.gateway"]!.GetValue<string>().Should().Be(gateway.GatewayId);
            container["Config"]!["Labels"]!["sandboxd.sandbox"]!.GetValue<string>().Should().Be(id);
            var run = await DockerGateway.RunAsync(sandbox, "echo $FOO $COMPUTESDK_SANDBOX_ID; id -un");
            run["stdout"]!.GetValue<string>().Should().Be($"bar{i} {id}\nsandbox\n");
        }

        foreach (var sandbox in placed)
        {
            var id = sandbox["sandboxId"]!.GetValue<string>();
            (await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{id}")).Status.Should().Be(200);
            (await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + id)).Should().BeNull("destroy removes the container");
            (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Status.Should().Be(404);
        }
    }

    [Fact(Timeout = 300_000)]
    public async Task Limits_are_in_the_containers_HostConfig_and_the_token_is_a_0600_file_not_in_docker_inspect()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines, ["--docker-memory", "512", "--docker-cpus", "1.5"]);
        var limited = await gateway.CreateAsync(new JsonObject { ["memoryMb"] = 300, ["cpus"] = 0.5, ["pids"] = 200 });
        var defaults = await gateway.CreateAsync();
        try
        {
            var host = (await InspectAsync(limited))["HostConfig"]!;
            host["Memory"]!.GetValue<long>().Should().Be(300L * 1024 * 1024);
            host["MemorySwap"]!.GetValue<long>().Should().Be(300L * 1024 * 1024, "no swap beyond the limit");
            host["NanoCpus"]!.GetValue<long>().Should().Be(500_000_000);
            host["PidsLimit"]!.GetValue<long>().Should().Be(200);
            var fallback = (await InspectAsync(defaults))["HostConfig"]!;
            fallback["Memory"]!.GetValue<long>().Should().Be(512L * 1024 * 1024, "--docker-memory is the default");
            fallback["NanoCpus"]!.GetValue<long>().Should().Be(1_500_000_000);
            fallback["PidsLimit"]!.GetValue<long>().Should().Be(1024);

            foreach (var sandbox in new[] { limited, defaults })
            {
                var token = sandbox["token"]!.GetValue<string>();
                token.Should().HaveLength(64);
                var inspect = await engines.InspectTextAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + sandbox["sandboxId"]!.GetValue<string>());
                inspect.Should().NotContain(token, "the token is neither an env var, a label nor an argument");
                // The image runs the agent as root and commands as sandbox (--run-as, ADR 0007): the secret directory is
                // root's, so a command cannot even look into it, and no command inherits the token.
                var stat = await DockerGateway.RunAsync(sandbox, "id -un; stat -c '%a %U' /.sandboxd-gateway; cat /.sandboxd-gateway/token 2>/dev/null || echo unreadable; env | grep -c " + token + " || true");
                stat["stdout"]!.GetValue<string>().Should().Be("sandbox\n700 root\nunreadable\n0\n",
                    "commands run as the unprivileged user, the token file is root's alone, and commands do not inherit it");
            }
        }
        finally
        {
            await DestroyAsync(gateway, limited);
            await DestroyAsync(gateway, defaults);
        }
    }

    [Fact(Timeout = 300_000)]
    public async Task A_snapshot_is_a_committed_image_and_a_sandbox_created_from_it_starts_on_that_engine_with_its_files()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines);
        var source = await gateway.CreateAsync();
        JsonNode? restored = null;
        try
        {
            await DockerGateway.RunAsync(source, "echo kept > /workspace/kept.txt");
            var (status, body) = await gateway.CallAsync(HttpMethod.Post, "v1/snapshots", new JsonObject { ["sandboxId"] = source["sandboxId"]!.GetValue<string>(), ["name"] = "s1" });
            status.Should().Be(200, body?.ToJsonString());
            var snapshot = body!["data"]!["id"]!.GetValue<string>();
            var engine = source["engine"]!.GetValue<string>();
            (await engines.DockerAsync(engine, "image", "ls", "-q", "sandboxd-snapshot:" + snapshot)).Trim().Should().NotBeEmpty("docker commit made the image");

            restored = await gateway.CreateAsync(new JsonObject { ["snapshotId"] = snapshot });
            restored["engine"]!.GetValue<string>().Should().Be(engine, "a snapshot lives on one engine");
            (await DockerGateway.RunAsync(restored, "cat /workspace/kept.txt"))["stdout"]!.GetValue<string>().Should().Be("kept\n");
            restored["token"]!.GetValue<string>().Should().NotBe(source["token"]!.GetValue<string>());

            await DestroyAsync(gateway, restored);
            restored = null;
            (await gateway.CallAsync(HttpMethod.Delete, $"v1/snapshots/{snapshot}")).Status.Should().Be(200);
            (await engines.DockerAsync(engine, "image", "ls", "-q", "sandboxd-snapshot:" + snapshot)).Trim().Should().BeEmpty("deleting the snapshot removes its image");
        }
        finally
        {
            await DestroyAsync(gateway, source);
            if (restored is not null)
            {
                await DestroyAsync(gateway, restored);
            }
        }
    }

    [Fact(Timeout = 400_000)]
    public async Task A_sandbox_on_an_engine_that_goes_down_is_reported_unavailable_not_deleted_and_comes_back_with_the_engine()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines);
        var onB = await gateway.CreateAsync();
        onB["engine"]!.GetValue<string>().Should().Be("b");
        var id = onB["sandboxId"]!.GetValue<string>();
        await DockerGateway.RunAsync(onB, "echo survived > /workspace/file.txt");
        JsonNode? onA = null;
        try
        {
            await engines.StopEngineAsync("b");
            await Eventually.UntilAsync(async () => (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Body?["data"]?["status"]?.GetValue<string>() == "unavailable",
                Bound, "the sandbox to be reported unavailable", TestContext.Current.CancellationToken);
            (await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{id}")).Status.Should().Be(503, "it cannot be destroyed while its engine is down");
            onA = await gateway.CreateAsync();
            onA["engine"]!.GetValue<string>().Should().Be("a", "nothing is placed on an engine that is down");

            await engines.StartEngineAsync("b");
            var back = await Eventually.UntilAsync(async () => (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Body?["data"],
                d => d?["status"]?.GetValue<string>() == "ready", Bound, "the sandbox to be ready again", TestContext.Current.CancellationToken);
            var again = await Eventually.UntilAsync<string?>(async () =>
                {
                    try
                    {
                        var current = (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Body!["data"]!;
                        return (await DockerGateway.RunAsync(current, "cat /workspace/file.txt"))["stdout"]!.GetValue<string>();
                    }
                    catch (HttpRequestException)
                    {
                        return null;
                    }
                }, s => s is not null, Bound, "a command in the sandbox that came back", TestContext.Current.CancellationToken);
            again.Should().Be("survived\n", "the engine restarted the same container (restart policy unless-stopped)");
            back!["token"]!.GetValue<string>().Should().Be(onB["token"]!.GetValue<string>());
        }
        finally
        {
            await engines.StartEngineAsync("b"); // a no-op when it runs
            await Eventually.UntilAsync(async () => (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Body?["data"]?["status"]?.GetValue<string>() != "unavailable",
                Bound, "engine b to be up again", CancellationToken.None);
            await DestroyAsync(gateway, onB);
            if (onA is not null)
            {
                await DestroyAsync(gateway, onA);
            }
        }
    }

    private async Task<JsonNode> InspectAsync(JsonNode sandbox) =>
        await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + sandbox["sandboxId"]!.GetValue<string>())
        ?? throw new InvalidOperationException("no container");

    private async Task DestroyAsync(DockerGateway gateway, JsonNode sandbox)
    {
        var id = sandbox["sandboxId"]!.GetValue<string>();
        var (status, body) = await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{id}");
        status.Should().BeOneOf([200, 404], body?.ToJsonString());
        (await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + id)).Should().BeNull();
    }
}
