using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

/// <summary>
/// A NUL in a path that reaches Path.GetFullPath (found by the reliability suite's fuzzer, tests/reliability): an
/// overlay's source or target, a PTY's cwd. It was a 500 ("Null character in path"); it is a 400 now.
/// </summary>
public sealed class NulInPathTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentClient Client => fixture.Client;

    [Theory(Timeout = 30_000)]
    [InlineData("/filesystem/overlays", """{"source":"src\u0000x","target":"t"}""")]
    [InlineData("/filesystem/overlays", """{"source":"/tmp","target":"t\u0000x"}""")]
    [InlineData("/terminals", """{"pty":true,"cwd":"a\u0000b"}""")]
    public async Task A_nul_in_a_path_is_a_400_not_a_500(string route, string body)
    {
        var response = await Client.PostJsonAsync(route, body, TestContext.Current.CancellationToken);
        response.Code.Should().Be(400, response.Describe());
        (await Client.GetAsync("/health", TestContext.Current.CancellationToken)).Code.Should().Be(200);
    }
}
