using System.Net;

namespace Sandboxd.Client.Tests;

public sealed class SessionTokenTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 120_000)]
    public async Task A_session_token_works_until_revoked_but_cannot_manage_tokens()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var admin = _agent.Client();

        var session = await admin.SessionTokens.CreateAsync("User session", TimeSpan.FromHours(24), ct);
        await using var user = new SandboxClient(_agent.BaseUrl, session.Token);
        var status = await user.Auth.StatusAsync(ct);
        var run = await user.Run.CommandAsync("echo as-user", ct);
        var forbidden = () => user.SessionTokens.CreateAsync(cancellationToken: ct);
        var listed = await admin.SessionTokens.ListAsync(ct);
        var details = await admin.SessionTokens.GetAsync(session.Id, ct);

        session.Description.Should().Be("User session");
        session.ExpiresAt.Should().BeCloseTo(session.CreatedAt.AddHours(24), TimeSpan.FromSeconds(5));
        status.TokenType.Should().Be("session_token");
        run.Stdout.Should().Be("as-user\n");
        (await forbidden.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        listed.Select(t => t.Id).Should().Contain(session.Id);
        details.Description.Should().Be("User session");

        await admin.SessionTokens.RevokeAsync(session.Id, ct);

        var revoked = () => user.Run.CommandAsync("true", ct);
        (await revoked.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 120_000)]
    public async Task Revoking_a_session_token_ends_its_open_streams_with_an_explicit_error()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var admin = _agent.Client();
        var session = await admin.SessionTokens.CreateAsync("stream", cancellationToken: ct);
        await using var user = new SandboxClient(_agent.BaseUrl, session.Token);
        await using var terminal = await user.Terminals.OpenPtyAsync(cancellationToken: ct);
        await terminal.WriteAsync("echo on\n", ct);

        await admin.SessionTokens.RevokeAsync(session.Id, ct);

        var act = async () =>
        {
            var buffer = new byte[4096];
            while (await terminal.Stream.ReadAsync(buffer, ct) > 0)
            {
            }
        };
        (await act.Should().ThrowAsync<SandboxdException>().WaitAsync(TimeSpan.FromSeconds(60), ct)).Which.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        await admin.Terminals.DeleteAsync(terminal.Id, ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_magic_link_points_at_this_agent_and_keeps_the_redirect()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var admin = _agent.Client();

        var link = await admin.MagicLinks.CreateAsync("/workspace", ct);

        link.MagicUrl.Should().StartWith(_agent.BaseUrl.ToString().TrimEnd('/') + "/auth/magic/");
        link.RedirectUrl.Should().Be("/workspace");
        link.ExpiresAt.Should().BeAfter(DateTime.UtcNow);
    }
}
