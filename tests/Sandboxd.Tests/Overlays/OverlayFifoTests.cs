using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Overlays;

/// <summary>Own agent: if the copy blocks on the fifo, the agent must not be shared with other tests.</summary>
public sealed class OverlayFifoTests : IDisposable
{
    private readonly string _template = Directory.CreateTempSubdirectory("sandboxd-template-fifo-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_fifo_in_the_template_does_not_hang_the_overlay()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        File.WriteAllText(Path.Combine(_template, "a.txt"), "a");
        var fifo = Path.Combine(_template, "pipe");
        (await agent.Client.RunAsync($"mkfifo {fifo}", Ct)).ExitCode.Should().Be(0);
        var target = "fifo-" + Guid.NewGuid().ToString("N")[..6];
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            ApiResponse response;
            try
            {
                response = await agent.Client.PostJsonAsync("/filesystem/overlays",
                    new JsonObject { ["source"] = _template, ["target"] = target }.ToJsonString(), timeout.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                throw new TimeoutException("POST /filesystem/overlays with a fifo in the template did not answer within 10 s (the copy blocks opening the fifo).");
            }

            response.Code.Should().BeOneOf([201, 400], response.Describe());
            if (response.Code == 201)
            {
                var id = response.Json.GetProperty("id").GetString()!;
                var done = await Eventually.UntilAsync(async () => (await agent.Client.GetAsync($"/filesystem/overlays/{id}", Ct)).Json,
                    o => o.GetProperty("copy_status").GetString() is "complete" or "failed", TimeSpan.FromSeconds(10), "the overlay to finish", Ct);
                done.GetProperty("copy_status").GetString().Should().BeOneOf("complete", "failed");
                File.ReadAllText(Path.Combine(agent.Root, target, "a.txt")).Should().Be("a");
            }

            (await agent.Anonymous.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        }
        finally
        {
            // If the agent is blocked opening the fifo for reading, opening it for writing releases it (EOF on close),
            // so the agent can still shut down cleanly.
            _ = Task.Run(() =>
            {
                try
                {
                    using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                }
                catch (IOException)
                {
                }
            }, CancellationToken.None);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_template, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
