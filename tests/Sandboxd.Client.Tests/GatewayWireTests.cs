using System.Text.Json;

namespace Sandboxd.Client.Tests;

/// <summary>The gateway's records on the wire: camelCase at the gateway level, the daemon's snake_case inside.</summary>
public sealed class GatewayWireTests
{
    [Fact]
    public void A_create_request_uses_the_gateways_names_and_keeps_the_daemons_names_for_servers_and_overlays()
    {
        var request = new CreateGatewaySandboxRequest(
            TimeoutMs: 60_000,
            TemplateId: "tpl",
            SnapshotId: "snap_1",
            Overlays: [new CreateOverlayRequest("/template/react", "./react", Strategy: "smart")],
            Servers: [new StartServerRequest("web", "npm run dev", RestartPolicy: "on-failure", HealthCheck: new HealthCheckConfig(IntervalMs: 2000))]);

        var json = JsonSerializer.SerializeToElement(request, GatewayJsonContext.Default.CreateGatewaySandboxRequest);

        json.GetProperty("timeout").GetInt64().Should().Be(60_000);
        json.GetProperty("templateId").GetString().Should().Be("tpl");
        json.GetProperty("snapshotId").GetString().Should().Be("snap_1");
        json.TryGetProperty("name", out _).Should().BeFalse("null members are not sent");
        json.GetProperty("overlays")[0].GetProperty("strategy").GetString().Should().Be("smart");
        var server = json.GetProperty("servers")[0];
        server.GetProperty("restart_policy").GetString().Should().Be("on-failure");
        server.GetProperty("health_check").GetProperty("interval_ms").GetInt64().Should().Be(2000);
    }

    [Fact]
    public void An_empty_create_request_is_an_empty_object_and_extend_sends_duration_in_ms()
    {
        JsonSerializer.Serialize(new CreateGatewaySandboxRequest(), GatewayJsonContext.Default.CreateGatewaySandboxRequest).Should().Be("{}");
        JsonSerializer.Serialize(new ExtendGatewaySandboxRequest(900_000), GatewayJsonContext.Default.ExtendGatewaySandboxRequest)
            .Should().Be("""{"duration":900000}""");
    }

    [Fact]
    public void A_sandbox_answer_is_read_with_its_overlays_servers_and_expiry()
    {
        const string answer = """
            {"success":true,"data":{"sandboxId":"sb1","url":"http://127.0.0.1:18080","token":"t","provider":"local",
             "metadata":{"owner":"a"},"name":"proj","namespace":"default","status":"ready","expiresAt":"2026-12-05T14:00:00.0000000+00:00",
             "overlays":[{"id":"ov1","source":"/t","target":"./r","copy_status":"complete"}],
             "servers":[{"slug":"web","status":"running","port":3000}]}}
            """;

        var envelope = JsonSerializer.Deserialize(answer, GatewayJsonContext.Default.GatewayEnvelopeGatewaySandboxInfo)!;

        envelope.Success.Should().BeTrue();
        var info = envelope.Data!;
        info.SandboxId.Should().Be("sb1");
        info.Metadata!.Value.GetProperty("owner").GetString().Should().Be("a");
        info.Overlays![0].CopyStatus.Should().Be("complete");
        info.Servers![0].Port.Should().Be(3000);
        info.ExpiresAt.Should().Be(new DateTimeOffset(2026, 12, 5, 14, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public void A_snapshot_list_answer_is_read()
    {
        const string answer = """{"success":true,"data":[{"id":"snap1","provider":"local","createdAt":"2025-01-01T00:00:00Z","name":"n","sandboxId":"sb1"}]}""";

        var list = JsonSerializer.Deserialize(answer, GatewayJsonContext.Default.GatewayEnvelopeIReadOnlyListGatewaySnapshotInfo)!.Data!;

        list.Should().ContainSingle().Which.Should().Be(new GatewaySnapshotInfo("snap1", "local", new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero),
            Name: "n", SandboxId: "sb1"));
    }
}
