using System.Net;

namespace Sandboxd.Client.Tests;

public sealed class OverlayTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task An_overlay_copies_a_template_and_can_be_waited_for_listed_and_deleted()
    {
        var ct = TestContext.Current.CancellationToken;
        var template = Directory.CreateTempSubdirectory("sandboxd-template-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(template, "package.json"), "{}", ct);
            Directory.CreateDirectory(Path.Combine(template, "node_modules", "left-pad"));
            await File.WriteAllTextAsync(Path.Combine(template, "node_modules", "left-pad", "index.js"), "//", ct);
            var target = Path.GetFileName(_agent.NewDirectory("overlay")) + "/react";
            await using var client = _agent.Client();

            var overlay = await client.Overlays.CreateAsync(new CreateOverlayRequest(template, target, Strategy: "smart"), waitForCompletion: true, ct);
            var listed = await client.Overlays.ListAsync(ct);
            var fetched = await client.Overlays.GetAsync(overlay.Id, ct);

            overlay.CopyStatus.Should().Be("complete");
            listed.Select(o => o.Id).Should().Contain(overlay.Id);
            fetched.Target.Should().Be(target);
            (await File.ReadAllTextAsync(Path.Combine(_agent.Root, target, "package.json"), ct)).Should().Be("{}");
            File.Exists(Path.Combine(_agent.Root, target, "node_modules", "left-pad", "index.js")).Should().BeTrue();

            await client.Overlays.DeleteAsync(overlay.Id, ct);

            Directory.Exists(Path.Combine(_agent.Root, target)).Should().BeFalse();
            var gone = () => client.Overlays.GetAsync(overlay.Id, ct);
            (await gone.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        }
        finally
        {
            Directory.Delete(template, recursive: true);
        }
    }
}
