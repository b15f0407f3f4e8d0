using System.Globalization;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>The signal service (<c>/signals</c>): port and server-ready notifications, errors.</summary>
public sealed class SignalsClient
{
    private readonly SandboxClient _client;

    internal SignalsClient(SandboxClient client) => _client = client;

    /// <summary>Starts the service (idempotent) and listens to the <c>signals</c> channel.</summary>
    public async Task<SignalListener> ListenAsync(CancellationToken cancellationToken = default)
    {
        var live = _client.Live;
        var status = await StartAsync(cancellationToken).ConfigureAwait(false);
        var subscription = new SignalSubscription(status.Channel, _client.Options.StreamBufferCapacity);
        await live.SubscribeAsync(subscription, cancellationToken).ConfigureAwait(false);
        return new SignalListener(_client, status, subscription);
    }

    /// <summary>Starts the service (idempotent).</summary>
    public Task<SignalStatusData> StartAsync(CancellationToken cancellationToken = default) => StatusCallAsync(HttpMethod.Post, "/signals/start", cancellationToken);

    /// <summary>The service status.</summary>
    public Task<SignalStatusData> StatusAsync(CancellationToken cancellationToken = default) => StatusCallAsync(HttpMethod.Get, "/signals/status", cancellationToken);

    /// <summary>Stops the service.</summary>
    public Task<SignalStatusData> StopAsync(CancellationToken cancellationToken = default) => StatusCallAsync(HttpMethod.Post, "/signals/stop", cancellationToken);

    private async Task<SignalStatusData> StatusCallAsync(HttpMethod method, string path, CancellationToken cancellationToken) =>
        (await _client.Transport.SendAsync(method, path, ProtocolJsonContext.Default.EnvelopeSignalStatusData, cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>Emits a port signal (<paramref name="type"/> is <c>open</c> or <c>close</c>).</summary>
    public async Task<PortSignalData> EmitPortAsync(int port, string type, string url, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, "/signals/port", new PortSignalRequest(port, type, url),
            ProtocolJsonContext.Default.PortSignalRequest, ProtocolJsonContext.Default.EnvelopePortSignalData, cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>Emits a port signal whose URL the agent derives (<c>POST /signals/port/{port}/{type}</c>).</summary>
    public async Task<PortSignalData> EmitPortAsync(int port, string type, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post,
            "/signals/port/" + port.ToString(CultureInfo.InvariantCulture) + "/" + Uri.EscapeDataString(type),
            ProtocolJsonContext.Default.EnvelopePortSignalData, cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>Emits an error signal.</summary>
    public async Task<string?> EmitErrorAsync(string message, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, "/signals/error", new ErrorSignalData(message),
            ProtocolJsonContext.Default.ErrorSignalData, ProtocolJsonContext.Default.EnvelopeErrorSignalData, cancellationToken).ConfigureAwait(false)).Data.Message;

    /// <summary>Emits a server-ready signal.</summary>
    public async Task<PortSignalData> EmitServerReadyAsync(int port, string url, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, "/signals/server-ready", new PortSignalRequest(port, null, url),
            ProtocolJsonContext.Default.PortSignalRequest, ProtocolJsonContext.Default.EnvelopePortSignalData, cancellationToken).ConfigureAwait(false)).Data;
}
