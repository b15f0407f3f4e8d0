using System.Text;

namespace Sandboxd.Client.Tests;

/// <summary>The gateway's one-origin mode (<c>--public-url</c>): the SandboxClient of a returned sandbox talks HTTP and
/// WebSocket to the agent through the gateway's <c>/sandboxes/&lt;id&gt;/</c> prefix.</summary>
public sealed class GatewayProxyTests(ProxiedGatewayFixture fixture) : IClassFixture<ProxiedGatewayFixture>
{
    [Fact(Timeout = 120_000)]
    public async Task A_sandbox_served_through_the_gateways_origin_answers_http_and_streams_over_its_websocket()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sandbox = await fixture.CreateAsync(fixture.ClientA, null, ct);

        sandbox.Client.BaseUrl.ToString().Should().StartWith(fixture.Gateway.Url.ToString().TrimEnd('/') + "/sandboxes/");
        await sandbox.Client.Files.WriteTextAsync("through.txt", "the proxy", ct);
        (await sandbox.Client.Run.CommandAsync("cat through.txt", ct)).Stdout.Should().Be("the proxy");
        var streamed = new StringBuilder();
        int? exitCode = null;
        await foreach (var e in sandbox.Client.Run.StreamAsync("echo one; sleep 0.2; echo two", ct))
        {
            switch (e)
            {
                case StandardOutputCommandEvent o: streamed.Append(o.Text); break;
                case ExitedCommandEvent exited: exitCode = exited.ExitCode; break;
            }
        }

        streamed.ToString().Should().Be("one\ntwo\n");
        exitCode.Should().Be(0);
        (await sandbox.DestroyAsync(ct)).Should().BeTrue();
        await fixture.WaitUntilGoneAsync(sandbox, ct);
    }
}
