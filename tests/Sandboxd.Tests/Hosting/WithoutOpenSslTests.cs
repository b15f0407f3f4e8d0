using System.Net.WebSockets;
using System.Text;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using Sandboxd.Tests.Live;

namespace Sandboxd.Tests.Hosting;

/// <summary>
/// The one binary must not need OpenSSL: slim images and minimal rootfs have no libssl. ASP.NET Core's WebSocket
/// middleware hashes the handshake with the runtime's SHA-1 (OpenSSL), and without libssl the runtime aborted the agent
/// — and every process it ran — on the first WebSocket. The agent here runs in a mount namespace where every libssl and
/// libcrypto is /dev/null, and is driven through the features that touch hashing or WebSockets.
/// </summary>
public sealed class WithoutOpenSslTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string HideOpenSsl = """
        set -e
        for f in /usr/lib/x86_64-linux-gnu/libssl.so* /usr/lib/x86_64-linux-gnu/libcrypto.so* /usr/lib/aarch64-linux-gnu/libssl.so* /usr/lib/aarch64-linux-gnu/libcrypto.so* /usr/lib64/libssl.so* /usr/lib64/libcrypto.so* /usr/lib/libssl.so* /usr/lib/libcrypto.so*; do
          if [ -f "$f" ]; then mount --bind /dev/null "$f"; fi
        done
        exec "$@"
        """;

    private static AgentLaunch Launch(params string[] extra) => new()
    {
        // As root a mount namespace is enough; otherwise a user namespace makes one (unprivileged).
        Wrapper = ["unshare", Environment.UserName == "root" ? "-m" : "-rm", "sh", "-c", HideOpenSsl, "sh"],
        ExtraArguments = extra,
    };

    [Fact(Timeout = 120_000)]
    public async Task Without_libssl_the_agent_serves_websockets_ptys_tokens_and_the_preview_tunnel()
    {
        await using var agent = await AgentProcess.StartAsync(Launch(), Ct);

        // Its children share its namespace: every libssl/libcrypto the machine has reads as empty.
        var probe = await agent.Client.PostJsonAsync("/run/command",
            """{"command":"cat /usr/lib/*/libssl.so* /usr/lib/*/libcrypto.so* /usr/lib64/libssl.so* 2>/dev/null | wc -c"}""", Ct);
        probe.Code.Should().Be(200, probe.Describe());
        probe.Data.GetProperty("stdout").GetString()!.Trim().Should().Be("0", "libssl and libcrypto are hidden from the agent");

        // /ws handshake (accept key hashed), a PTY over it.
        var id = await LiveApi.CreatePtyAsync(agent.Client, Ct, ",\"shell\":\"/bin/sh\"");
        await using (var socket = await LiveSocket.ConnectAsync(agent, Ct))
        {
            await socket.SubscribeAsync("terminal:" + id, Ct);
            await socket.InputAsync(id, "echo no-ssl-$((6*7))\n", Ct);
            await socket.WaitOutputAsync("terminal:output", "terminal:" + id, o => o.Contains("no-ssl-42", StringComparison.Ordinal), LiveApi.Quick, "PTY output", Ct);
        }

        // Session tokens are hashed (SHA-256) at rest: create one and use it.
        var session = await agent.Client.PostJsonAsync("/auth/session_tokens", """{"description":"no-ssl"}""", Ct);
        session.Code.Should().BeOneOf([200, 201], session.Describe());
        var sessionToken = session.Json.GetProperty("token").GetString()!;
        using (var bySession = new AgentClient(agent, sessionToken))
        {
            (await bySession.GetAsync("/terminals", Ct)).Code.Should().Be(200);
        }

        // The preview proxy's WebSocket tunnel, to a second agent's /ws.
        await using var upstream = await AgentProcess.StartAsync(new AgentLaunch { PassAccessToken = false, ExtraArguments = ["--insecure-no-auth"] }, Ct);
        using var proxied = new ClientWebSocket();
        proxied.Options.SetRequestHeader("Authorization", "Bearer " + agent.Token);
        await proxied.ConnectAsync(new Uri($"ws://{agent.BaseUrl.Authority}/preview/{upstream.BaseUrl.Port}/ws?protocol=json"), Ct);
        await proxied.SendAsync(Encoding.UTF8.GetBytes("""{"type":"subscribe","channel":"signals"}"""), WebSocketMessageType.Text, true, Ct);
        await proxied.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Ct);
        proxied.State.Should().Be(WebSocketState.Closed);

        agent.HasExited.Should().BeFalse(agent.StderrTail());
        File.ReadAllText($"/proc/{agent.Pid}/maps").Should().NotContain("libssl").And.NotContain("libcrypto");
    }
}
