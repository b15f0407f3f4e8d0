using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Auth;

public sealed class AuthTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 30_000)]
    public async Task Auth_status_is_unauthenticated_without_a_token()
    {
        var response = await Agent.Anonymous.GetAsync("/auth/status", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("authenticated").GetBoolean().Should().BeFalse();
        response.Data.TryGetProperty("token_type", out _).Should().BeFalse("token_type is omitted when not authenticated");
    }

    [Fact(Timeout = 30_000)]
    public async Task Auth_status_reports_an_access_token_when_one_is_sent()
    {
        var response = await Agent.Client.GetAsync("/auth/status", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("authenticated").GetBoolean().Should().BeTrue();
        response.Data.GetProperty("token_type").GetString().Should().Be("access_token");
    }

    [Fact(Timeout = 30_000)]
    public async Task Auth_info_lists_the_seven_endpoints_as_strings()
    {
        var response = await Agent.Anonymous.GetAsync("/auth/info", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("message").ValueKind.Should().Be(JsonValueKind.String);
        response.Data.GetProperty("instructions").ValueKind.Should().Be(JsonValueKind.String);
        var endpoints = response.Data.GetProperty("endpoints");
        endpoints.EnumerateObject().Select(p => (p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : "<not a string>"))
            .Should().BeEquivalentTo(new[]
            {
                ("create_session_token", "POST /auth/session_tokens"),
                ("list_session_tokens", "GET /auth/session_tokens"),
                ("get_session_token", "GET /auth/session_tokens/:id"),
                ("revoke_session_token", "DELETE /auth/session_tokens/:id"),
                ("create_magic_link", "POST /auth/magic-links"),
                ("auth_status", "GET /auth/status"),
                ("auth_info", "GET /auth/info"),
            });
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/files?path=/")]
    [InlineData("POST", "/run/command")]
    [InlineData("POST", "/run/code")]
    [InlineData("GET", "/terminals")]
    [InlineData("GET", "/env?file=.env")]
    [InlineData("HEAD", "/files/x")]
    public async Task Protected_routes_answer_401_json_without_a_token(string method, string path)
    {
        var response = await Agent.Anonymous.SendAsync(new HttpMethod(method), path, method == "POST" ? """{"command":"touch pwned"}""" : null,
            TestContext.Current.CancellationToken);

        if (method == "HEAD")
        {
            response.ShouldHaveStatus(401);
        }
        else
        {
            response.ShouldBeError(401);
        }

        File.Exists(Path.Combine(Agent.Root, "pwned")).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_wrong_bearer_token_is_rejected_with_401_json()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/files?path=/", null, TestContext.Current.CancellationToken,
            r => r.Headers.Authorization = new("Bearer", Agent.Token + "x"));

        response.ShouldBeError(401);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_token_that_is_only_a_prefix_of_the_real_one_is_rejected()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/files?path=/", null, TestContext.Current.CancellationToken,
            r => r.Headers.Authorization = new("Bearer", Agent.Token![..^1]));

        response.ShouldBeError(401);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_token_is_accepted_as_a_bearer_header()
    {
        (await Agent.Client.GetAsync("/files?path=/", TestContext.Current.CancellationToken)).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_token_is_accepted_as_a_token_query_parameter()
    {
        var response = await Agent.Anonymous.GetAsync($"/files?path=%2F&token={Uri.EscapeDataString(Agent.Token!)}", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_token_is_accepted_as_a_session_token_cookie()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/files?path=/", null, TestContext.Current.CancellationToken,
            r => r.Headers.Add("Cookie", $"theme=dark; session_token={Agent.Token}"));

        response.ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_wrong_query_token_is_rejected_even_on_a_post()
    {
        var response = await Agent.Anonymous.PostJsonAsync("/run/command?token=nope", """{"command":"touch pwned2"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(401);
        File.Exists(Path.Combine(Agent.Root, "pwned2")).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_session_token_is_kept_at_rest_only_as_its_sha256()
    {
        var ct = TestContext.Current.CancellationToken;
        var created = await Agent.Client.PostJsonAsync("/auth/session_tokens", """{"description":"at-rest"}""", ct);
        created.Code.Should().BeOneOf([200, 201], created.Describe());
        var token = created.Json.GetProperty("token").GetString()!;

        // The agent's own SHA-256 (no OpenSSL) must agree with the runtime's.
        var stored = await File.ReadAllTextAsync(Path.Combine(Agent.StateDir, "session-tokens.json"), ct);
        stored.Should().NotContain(token);
        stored.Should().Contain(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token))));
    }
}
