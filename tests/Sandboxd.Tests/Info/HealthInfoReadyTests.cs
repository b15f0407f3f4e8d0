using System.Globalization;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Info;

public sealed class HealthInfoReadyTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Fact(Timeout = 30_000)]
    public async Task Health_is_public_and_top_level_with_a_current_utc_timestamp()
    {
        var response = await Agent.Anonymous.GetAsync("/health", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Json.GetProperty("status").GetString().Should().Be("ok");
        response.Json.TryGetProperty("data", out _).Should().BeFalse("/health is not wrapped in an envelope");
        var timestamp = response.Json.GetProperty("timestamp").GetString()!;
        timestamp.Should().EndWith("Z");
        DateTimeOffset.Parse(timestamp, CultureInfo.InvariantCulture).Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact(Timeout = 30_000)]
    public async Task Info_is_a_public_envelope_describing_the_main_sandbox()
    {
        var response = await Agent.Anonymous.GetAsync("/info", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        var data = response.Data;
        data.GetProperty("auth_enabled").GetBoolean().Should().BeTrue();
        data.GetProperty("main_subdomain").GetString().Should().NotBeNullOrEmpty();
        data.GetProperty("sandbox_count").GetInt32().Should().Be(1);
        data.GetProperty("sandbox_url").GetString().Should().Be(Agent.BaseUrl.ToString().TrimEnd('/'));
        data.GetProperty("version").GetString().Should().MatchRegex(@"^\d+\.\d+\.\d+");
    }

    [Fact(Timeout = 30_000)]
    public async Task Ready_is_public_and_top_level_and_true_with_nothing_registered()
    {
        var response = await Agent.Anonymous.GetAsync("/ready", TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(200);
        response.Json.GetProperty("ready").GetBoolean().Should().BeTrue();
        response.Json.GetProperty("servers").ValueKind.Should().Be(JsonValueKind.Array);
        response.Json.GetProperty("servers").GetArrayLength().Should().Be(0);
        response.Json.GetProperty("overlays").ValueKind.Should().Be(JsonValueKind.Array);
        response.Json.TryGetProperty("data", out _).Should().BeFalse("/ready is not wrapped in an envelope");
        response.Json.TryGetProperty("healthy", out _).Should().BeFalse("healthy is present only when a server has a health check");
    }

    [Fact(Timeout = 30_000)]
    public async Task Info_reports_the_same_version_as_the_command_line()
    {
        var ct = TestContext.Current.CancellationToken;
        var cli = await AgentCli.RunAsync(["--version"], ct);

        var info = await Agent.Anonymous.GetAsync("/info", ct);

        cli.StandardOutput.Trim().Should().Be("sandboxd " + info.Data.GetProperty("version").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Info_derives_the_sandbox_url_from_the_host_header()
    {
        var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, "/info", null, TestContext.Current.CancellationToken,
            r => r.Headers.Host = "sandbox.example.test:4321");

        response.Data.GetProperty("sandbox_url").GetString().Should().Be("http://sandbox.example.test:4321");
    }

    [Fact(Timeout = 30_000)]
    public async Task Public_routes_ignore_an_invalid_token()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var path in new[] { "/health", "/info", "/ready", "/auth/status", "/auth/info" })
        {
            var response = await Agent.Anonymous.SendAsync(HttpMethod.Get, path, null, ct,
                r => r.Headers.Authorization = new("Bearer", "definitely-wrong"));
            response.ShouldHaveStatus(200);
        }
    }
}
