using System.Net;

namespace Sandboxd.Client.Tests;

[Collection(GatewayCollection.Name)]
public sealed class GatewaySnapshotTests(GatewayFixture fixture)
{
    [Fact(Timeout = 180_000)]
    public async Task A_snapshot_is_created_listed_restored_into_a_new_sandbox_and_deleted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = await fixture.CreateAsync(fixture.ClientA, null, ct);
        await sandbox.Client.Files.WriteTextAsync("kept.txt", "from the snapshot", ct);

        var snapshot = await sandbox.CreateSnapshotAsync("client-snap", new Dictionary<string, string> { ["purpose"] = "test" }, ct);

        snapshot.Id.Should().NotBeNullOrEmpty();
        snapshot.Provider.Should().NotBeNullOrEmpty();
        snapshot.CreatedAt.Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));
        (await fixture.ClientA.ListSnapshotsAsync(ct)).Select(s => s.Id).Should().Contain(snapshot.Id);
        (await fixture.ClientB.ListSnapshotsAsync(ct)).Select(s => s.Id).Should().NotContain(snapshot.Id, "snapshots belong to their key");
        await using (var restored = await fixture.CreateAsync(fixture.ClientA, new CreateGatewaySandboxRequest(SnapshotId: snapshot.Id), ct))
        {
            restored.Id.Should().NotBe(sandbox.Id);
            (await restored.Client.Files.ReadTextAsync("kept.txt", ct)).Should().Be("from the snapshot");
            (await restored.DestroyAsync(ct)).Should().BeTrue();
        }

        (await fixture.ClientB.DeleteSnapshotAsync(snapshot.Id, ct)).Should().BeFalse();
        (await fixture.ClientA.DeleteSnapshotAsync(snapshot.Id, ct)).Should().BeTrue();
        (await fixture.ClientA.ListSnapshotsAsync(ct)).Select(s => s.Id).Should().NotContain(snapshot.Id);
        (await fixture.ClientA.DeleteSnapshotAsync(snapshot.Id, ct)).Should().BeFalse();
        (await sandbox.DestroyAsync(ct)).Should().BeTrue();
    }

    [Fact(Timeout = 120_000)]
    public async Task Snapshots_of_unknown_or_foreign_sandboxes_and_restores_of_unknown_snapshots_fail_with_the_gateways_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = await fixture.CreateAsync(fixture.ClientA, null, ct);

        var foreign = () => fixture.ClientB.CreateSnapshotAsync(sandbox.Id, cancellationToken: ct);
        var unknown = () => fixture.ClientA.CreateSnapshotAsync("sbx_unknown", cancellationToken: ct);
        var restore = () => fixture.ClientA.CreateAsync(new CreateGatewaySandboxRequest(SnapshotId: "snap_unknown"), ct);

        (await foreign.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await unknown.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var refused = (await restore.Should().ThrowAsync<SandboxdException>()).Which;
        refused.StatusCode.Should().Be(HttpStatusCode.NotFound);
        refused.Message.Should().Contain("snap_unknown", "the gateway's reason reaches the caller");
        (await sandbox.DestroyAsync(ct)).Should().BeTrue();
    }
}
