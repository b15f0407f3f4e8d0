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
}
