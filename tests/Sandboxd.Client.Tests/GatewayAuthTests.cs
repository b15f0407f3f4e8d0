using System.Net;

namespace Sandboxd.Client.Tests;

[Collection(GatewayCollection.Name)]
public sealed class GatewayAuthTests(GatewayFixture fixture)
{
    [Fact(Timeout = 60_000)]
    public async Task A_wrong_api_key_is_refused_with_a_SandboxdException_that_says_so()
    {
        var ct = TestContext.Current.CancellationToken;
        using var wrong = fixture.Gateway.Client("not-a-key-" + GatewayFixture.Unique("x"));

        var create = () => wrong.CreateAsync(cancellationToken: ct);
        var get = () => wrong.GetAsync("sb-anything", ct);
        var list = () => wrong.ListSnapshotsAsync(ct);

        var refused = (await create.Should().ThrowAsync<SandboxdException>()).Which;
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        refused.Message.Should().Contain("Invalid API key");
        (await get.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "401 is not 'not found'");
        (await list.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 120_000)]
    public async Task Another_api_key_does_not_see_or_destroy_the_first_keys_sandbox()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = GatewayFixture.Unique("mine");
        await using var sandbox = fixture.Track(fixture.ClientA, await fixture.ClientA.FindOrCreateAsync(name, cancellationToken: ct));

        (await fixture.ClientB.GetAsync(sandbox.Id, ct)).Should().BeNull();
        (await fixture.ClientB.FindAsync(name, cancellationToken: ct)).Should().BeNull();
        (await fixture.ClientB.DestroyAsync(sandbox.Id, ct)).Should().BeFalse();
        var extend = () => fixture.ClientB.ExtendAsync(sandbox.Id, TimeSpan.FromMinutes(1), ct);
        (await extend.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);

        (await sandbox.Client.Run.CommandAsync("echo still-mine", ct)).Stdout.Should().Be("still-mine\n");
        await using var again = await fixture.ClientA.GetAsync(sandbox.Id, ct);
        again.Should().NotBeNull();
    }
}
