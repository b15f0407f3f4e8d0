using System.Text.Json.Nodes;

namespace Sandboxd.Client.Tests;

/// <summary>
/// Reconciliation of the docker provider (LESSONS 42): a gateway killed -9 between an engine call and the store write
/// that follows it (test-only <c>SANDBOXD_GATEWAY_CRASH_AT</c>) leaves neither an orphan container nor a dangling record
/// once it is started again; containers labelled by this gateway without a record are removed after the grace
/// period, another gateway's are not; a record whose container vanished is marked gone.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class GatewayDockerReconcileTests(DockerEngines engines)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory(Timeout = 300_000)]
    [InlineData("after-container-create")]
    [InlineData("after-container-start")]
    public async Task A_gateway_killed_between_creating_the_container_and_recording_it_leaves_no_orphan_and_no_record(string point)
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines, crashAt: point);
        var create = async () => await gateway.CallAsync(HttpMethod.Post, "v1/sandboxes/find-or-create", new JsonObject { ["name"] = "crash", ["namespace"] = point });
        await create.Should().ThrowAsync<HttpRequestException>("the gateway killed itself mid-create");
        await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var label = "sandboxd.gateway=" + gateway.GatewayId;
        var left = (await engines.ContainerNamesAsync("a", label)).Concat(await engines.ContainerNamesAsync("b", label)).ToList();
        left.Should().ContainSingle("the engine call was made before the crash");

        await gateway.LaunchAsync(); // no crash point this time; the reconciler runs before the ready line
        (await engines.ContainerNamesAsync("a", label)).Concat(await engines.ContainerNamesAsync("b", label)).Should().BeEmpty("the container of the unfinished record was removed");
        var sandboxId = left[0]["sandboxd-".Length..];
        (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{sandboxId}")).Status.Should().Be(404, "its record is gone, not dangling");
        var (status, found) = await gateway.CallAsync(HttpMethod.Post, "v1/sandboxes/find-or-create", new JsonObject { ["name"] = "crash", ["namespace"] = point });
        status.Should().Be(200, found?.ToJsonString());
        var fresh = found!["data"]!;
        fresh["sandboxId"]!.GetValue<string>().Should().NotBe(sandboxId, "the name was freed");
        (await DockerGateway.RunAsync(fresh, "echo ok"))["stdout"]!.GetValue<string>().Should().Be("ok\n");
        (await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{fresh["sandboxId"]!.GetValue<string>()}")).Status.Should().Be(200);
    }

    [Fact(Timeout = 300_000)]
    public async Task A_gateway_killed_between_removing_the_container_and_recording_it_gone_finishes_the_destroy_at_the_next_start()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines, crashAt: "after-container-remove");
        var sandbox = await gateway.CreateAsync(new JsonObject { ["name"] = "doomed" });
        var id = sandbox["sandboxId"]!.GetValue<string>();
        var destroy = async () => await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{id}");
        await destroy.Should().ThrowAsync<HttpRequestException>("the gateway killed itself after the engine removed the container");
        await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10));
        (await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + id)).Should().BeNull();

        await gateway.LaunchAsync();
        (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Status.Should().Be(404, "the record left 'destroying' is now gone");
        (await gateway.CallAsync(HttpMethod.Post, "v1/sandboxes/find", new JsonObject { ["name"] = "doomed" })).Status.Should().Be(404);
    }

    [Fact(Timeout = 300_000)]
    public async Task Docker_sandboxes_outlive_a_gateway_restart_and_are_found_again()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines);
        var sandbox = await gateway.CreateAsync(new JsonObject { ["name"] = "kept" });
        var id = sandbox["sandboxId"]!.GetValue<string>();
        await gateway.StopAsync();
        (await engines.InspectAsync(sandbox["engine"]!.GetValue<string>(), "sandboxd-" + id))!["State"]!["Running"]!.GetValue<bool>()
            .Should().BeTrue("a gateway stop does not touch its sandboxes");

        await gateway.LaunchAsync();
        var (status, found) = await gateway.CallAsync(HttpMethod.Post, "v1/sandboxes/find", new JsonObject { ["name"] = "kept" });
        status.Should().Be(200, found?.ToJsonString());
        found!["data"]!["sandboxId"]!.GetValue<string>().Should().Be(id);
        (await DockerGateway.RunAsync(found["data"]!, "echo still"))["stdout"]!.GetValue<string>().Should().Be("still\n");
        (await gateway.CallAsync(HttpMethod.Delete, $"v1/sandboxes/{id}")).Status.Should().Be(200);
    }

    [Fact(Timeout = 300_000)]
    public async Task Containers_labelled_by_this_gateway_without_a_record_are_removed_and_records_whose_container_vanished_are_gone()
    {
        engines.SkipIfUnavailable();
        await using var gateway = await DockerGateway.StartAsync(engines, ["--orphan-grace", "1"]);
        var mine = await engines.DockerAsync("a", "create", "--label", "sandboxd.gateway=" + gateway.GatewayId, "--label", "sandboxd.sandbox=sbx_orphan", engines.Image);
        var theirs = await engines.DockerAsync("a", "create", "--label", "sandboxd.gateway=gw_someone_else", "--label", "sandboxd.sandbox=sbx_theirs", engines.Image);
        try
        {
            await Eventually.UntilAsync(async () => await engines.InspectAsync("a", mine.Trim()) is null, Bound,
                "the orphan labelled by this gateway to be removed", TestContext.Current.CancellationToken);
            (await engines.InspectAsync("a", theirs.Trim())).Should().NotBeNull("another gateway's containers are not this gateway's to remove");

            var sandbox = await gateway.CreateAsync();
            var id = sandbox["sandboxId"]!.GetValue<string>();
            await engines.DockerAsync(sandbox["engine"]!.GetValue<string>(), "rm", "-f", "sandboxd-" + id);
            await Eventually.UntilAsync(async () => (await gateway.CallAsync(HttpMethod.Get, $"v1/sandboxes/{id}")).Status == 404, Bound,
                "the record whose container vanished to be gone", TestContext.Current.CancellationToken);
        }
        finally
        {
            await engines.DockerAsync("a", "rm", "-f", theirs.Trim());
        }
    }
}
