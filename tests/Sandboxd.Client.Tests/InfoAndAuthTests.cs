using System.Net;

namespace Sandboxd.Client.Tests;

public sealed class InfoAndAuthTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task Health_info_and_ready_describe_the_agent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();

        var health = await client.Info.HealthAsync(ct);
        var info = await client.Info.GetAsync(ct);
        var ready = await client.Info.ReadyAsync(ct);

        health.Status.Should().Be("ok");
        info.AuthEnabled.Should().BeTrue();
        info.SandboxCount.Should().BeGreaterThanOrEqualTo(1);
        info.Version.Should().NotBeNullOrEmpty();
        ready.Servers.Should().NotBeNull();
        ready.Overlays.Should().NotBeNull();
    }

    [Fact(Timeout = 120_000)]
    public async Task Auth_status_reports_the_access_token_and_auth_info_lists_the_endpoints()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        await using var anonymous = new SandboxClient(_agent.BaseUrl, null);

        var status = await client.Auth.StatusAsync(ct);
        var anonymousStatus = await anonymous.Auth.StatusAsync(ct);
        var info = await client.Auth.InfoAsync(ct);

        status.Authenticated.Should().BeTrue();
        status.TokenType.Should().Be("access_token");
        anonymousStatus.Authenticated.Should().BeFalse();
        info.Endpoints.CreateSessionToken.Should().Be("POST /auth/session_tokens");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_wrong_token_throws_SandboxdException_with_401_and_the_agents_error_text()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = new SandboxClient(_agent.BaseUrl, "not-the-token");

        var act = () => client.Run.CommandAsync("true", ct);

        var error = (await act.Should().ThrowAsync<SandboxdException>()).Which;
        error.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        error.Error.Should().NotBeNullOrEmpty();
        error.Message.Should().Contain("401").And.Contain(error.Error!);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_wrong_token_fails_a_stream_explicitly_instead_of_retrying_forever()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = new SandboxClient(_agent.BaseUrl, "not-the-token");
        await using var good = _agent.Client();
        var terminal = await good.Terminals.OpenPtyAsync(cancellationToken: ct);
        await using (terminal)
        {
            var act = async () => await client.Terminals.AttachPtyAsync(terminal.Id, cancellationToken: ct);

            (await act.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            await terminal.DestroyAsync(ct);
        }
    }
}
