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

    [Fact(Timeout = 300_000)]
    public async Task An_engine_reached_over_tcp_with_TLS_client_certificates_serves_sandboxes_and_a_foreign_certificate_is_refused()
    {
        engines.SkipIfUnavailable();
        // Engine b listens on tcp://127.0.0.1:PORT with --tlsverify (tests/docker/engines.sh), as a remote host would.
        await using (var gateway = await DockerGateway.StartWithHostsAsync(engines, [$"b={engines.TlsEndpointB},tls={engines.TlsClient},capacity=2"]))
        {
            var sandbox = await gateway.CreateAsync();
            try
            {
                sandbox["engine"]!.GetValue<string>().Should().Be("b");
                (await DockerGateway.RunAsync(sandbox, "echo over-tls"))["stdout"]!.GetValue<string>().Should().Be("over-tls\n");
                (await engines.InspectAsync("b", "sandboxd-" + sandbox["sandboxId"]!.GetValue<string>())).Should().NotBeNull("the container is on engine b");
            }
            finally
            {
                await DestroyAsync(gateway, sandbox);
            }
        }

        // A client certificate of another CA: the engine refuses the TLS handshake, the gateway counts it down and says so.
        await using var stranger = await DockerGateway.StartWithHostsAsync(engines, [$"b={engines.TlsEndpointB},tls={engines.TlsStranger},capacity=2"]);
        var (status, body) = await stranger.CallAsync(HttpMethod.Post, "v1/sandboxes", new JsonObject());
        status.Should().Be(503, body?.ToJsonString());
        body!.ToJsonString().Should().Contain("No Docker engine is reachable");
        (await engines.ContainerNamesAsync("b", "sandboxd.gateway=" + stranger.GatewayId)).Should().BeEmpty("nothing was created through a refused engine");
    }

    [Fact(Timeout = 300_000)]
    public async Task The_pull_policy_is_kept_missing_uses_the_image_on_the_engine_and_a_failed_pull_is_a_clear_error()
    {
        engines.SkipIfUnavailable();
        // missing: the image is on both engines, so nothing is pulled (no registry is reachable from here).
        await using (var gateway = await DockerGateway.StartAsync(engines, ["--docker-pull", "missing"]))
        {
            var sandbox = await gateway.CreateAsync();
            (await DockerGateway.RunAsync(sandbox, "echo pulled-nothing"))["stdout"]!.GetValue<string>().Should().Be("pulled-nothing\n");
            await DestroyAsync(gateway, sandbox);
            gateway.Stderr.Should().NotContain("Pulling", "the image was already there");
        }

        // An image that is not there, from a registry that refuses connections: the engine's pull fails at once and the
        // create answers with the engine's reason; the gateway keeps serving.
        const string Missing = "127.0.0.1:9/sandboxd-absent:never";
        await using var failing = await DockerGateway.StartAsync(engines, ["--docker-pull", "missing", "--docker-image", Missing]);
        var (status, body) = await failing.CallAsync(HttpMethod.Post, "v1/sandboxes", new JsonObject());
        status.Should().BeInRange(500, 599, body?.ToJsonString());
        body!["error"]!.GetValue<string>().Should().Contain("pull 127.0.0.1:9/sandboxd-absent:never").And.Contain("connection refused");
        failing.Stderr.Should().Contain("Pulling");
        (await failing.CallAsync(HttpMethod.Get, "v1/sandboxes/nope")).Status.Should().Be(404, "the gateway still answers");

        await using var never = await DockerGateway.StartAsync(engines, ["--docker-pull", "never", "--docker-image", Missing]);
        (status, body) = await never.CallAsync(HttpMethod.Post, "v1/sandboxes", new JsonObject());
        status.Should().BeInRange(500, 599);
        body!["error"]!.GetValue<string>().Should().Contain("the pull policy is 'never'");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_tls_directory_whose_files_do_not_load_is_a_clear_start_up_error_not_a_crash()
    {
        engines.SkipIfUnavailable();
        var broken = Directory.CreateTempSubdirectory("sandboxd-tls-broken-").FullName;
        try
        {
            foreach (var file in new[] { "ca.pem", "cert.pem" })
            {
                File.Copy(Path.Combine(engines.TlsClient, file), Path.Combine(broken, file));
            }

            File.Copy(Path.Combine(engines.TlsStranger, "key.pem"), Path.Combine(broken, "key.pem")); // not cert.pem's key
            var info = new System.Diagnostics.ProcessStartInfo(GatewayProcess.GatewayPath)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = broken,
            };
            foreach (var argument in new[] { "start", "--port", "0", "--state-dir", Path.Combine(broken, "state"), "--api-key", "k",
                         "--provider", "docker", "--docker-image", engines.Image, "--docker-host", $"b={engines.TlsEndpointB},tls={broken}" })
            {
                info.ArgumentList.Add(argument);
            }

            using var process = System.Diagnostics.Process.Start(info)!;
            var ct = TestContext.Current.CancellationToken;
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            process.ExitCode.Should().Be(2);
            (await stderr).Should().Contain($"tls={broken}").And.Contain("key.pem").And.NotContain("Unhandled exception");
        }
        finally
        {
            Directory.Delete(broken, recursive: true);
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
