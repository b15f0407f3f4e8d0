using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Managed servers (<c>/servers</c>): supervised processes with install, restart policy and health checks.</summary>
public sealed class ServersClient
{
    private readonly SandboxClient _client;

    internal ServersClient(SandboxClient client) => _client = client;

    /// <summary>Starts (or replaces) a server; returns at once with status <c>installing</c> or <c>starting</c>.</summary>
    public async Task<ServerInfo> StartAsync(StartServerRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/servers", request,
            ProtocolJsonContext.Default.StartServerRequest, ProtocolJsonContext.Default.EnvelopeServerData, cancellationToken).ConfigureAwait(false);
        return envelope.Data.Server;
    }

    /// <summary>Every server, in creation order.</summary>
    public async Task<IReadOnlyList<ServerInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/servers", ProtocolJsonContext.Default.EnvelopeServerList, cancellationToken)
            .ConfigureAwait(false)).Data.Servers;

    /// <summary>One server.</summary>
    public async Task<ServerInfo> GetAsync(string slug, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, Path(slug), ProtocolJsonContext.Default.EnvelopeServerData, cancellationToken)
            .ConfigureAwait(false)).Data.Server;

    /// <summary>Stops the server (TERM, then KILL after its stop timeout); completes when it is gone.</summary>
    public Task StopAsync(string slug, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Post, Path(slug) + "/stop", cancellationToken);

    /// <summary>Stops and starts the server again.</summary>
    public async Task<ServerInfo> RestartAsync(string slug, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, Path(slug) + "/restart", ProtocolJsonContext.Default.EnvelopeServerData, cancellationToken)
            .ConfigureAwait(false)).Data.Server;

    /// <summary>Stops the server and forgets it.</summary>
    public Task DeleteAsync(string slug, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, Path(slug), cancellationToken);

    /// <summary>Captured output: <paramref name="stream"/> is <c>stdout</c>, <c>stderr</c> or <c>combined</c> (default).</summary>
    public async Task<ServerLogsData> LogsAsync(string slug, string? stream = null, CancellationToken cancellationToken = default)
    {
        var query = stream is null ? "" : "?stream=" + Uri.EscapeDataString(stream);
        return (await _client.Transport.SendAsync(HttpMethod.Get, Path(slug) + "/logs" + query, ProtocolJsonContext.Default.EnvelopeServerLogsData,
            cancellationToken).ConfigureAwait(false)).Data;
    }

    /// <summary>Overrides the recorded status (no process action).</summary>
    public async Task<ServerStatusData> UpdateStatusAsync(string slug, string status, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Patch, Path(slug) + "/status", new ServerStatusData(status),
            ProtocolJsonContext.Default.ServerStatusData, ProtocolJsonContext.Default.EnvelopeServerStatusData, cancellationToken).ConfigureAwait(false)).Data;

    private static string Path(string slug)
    {
        ArgumentException.ThrowIfNullOrEmpty(slug);
        return "/servers/" + Uri.EscapeDataString(slug);
    }
}
