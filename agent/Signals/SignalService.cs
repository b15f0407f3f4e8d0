using Sandboxd.Core;
using Sandboxd.Live;
using Sandboxd.Ports;
using Sandboxd.Protocol;

namespace Sandboxd.Signals;

/// <summary>
/// One signal service per sandbox: while active, ports that open or close in the sandbox and servers that become
/// ready are published on the <c>signals</c> channel; the emit routes publish whatever the caller says.
/// </summary>
internal sealed class SignalService(LiveHub hub, PortScanner scanner, PublicUrls urls) : ISignalEmitter
{
    public const string Channel = "signals";

    private sealed class State
    {
        public readonly Lock Gate = new();
        /// <remarks>Guarded by <see cref="Gate"/>.</remarks>
        public IDisposable? Subscription;
    }

    private static State For(SandboxContext sandbox) => sandbox.Feature(() => new State());

    public bool IsActive(SandboxContext sandbox)
    {
        var state = For(sandbox);
        lock (state.Gate)
        {
            return state.Subscription is not null;
        }
    }

    public void Start(SandboxContext sandbox)
    {
        var state = For(sandbox);
        lock (state.Gate)
        {
            // Only the main sandbox sees every listener; a child hears about its own servers' ports (from Servers).
            state.Subscription ??= sandbox.IsMain ? scanner.Subscribe(change => OnPortChange(sandbox, change)) : new NoSubscription();
        }

        scanner.ScanSoon();
    }

    private sealed class NoSubscription : IDisposable
    {
        public void Dispose()
        {
        }
    }

    public void Stop(SandboxContext sandbox)
    {
        var state = For(sandbox);
        lock (state.Gate)
        {
            state.Subscription?.Dispose();
            state.Subscription = null;
        }
    }

    private void OnPortChange(SandboxContext sandbox, PortChange change) =>
        EmitPort(sandbox, change.Port.Port, change.Opened ? "open" : "close", urls.PreviewUrl(change.Port.Port, sandbox.Subdomain, null),
            change.Port.Address, change.Port.Pid);

    /// <summary>Publishes a port signal (only while the service is active).</summary>
    public void EmitPort(SandboxContext sandbox, int port, string type, string url, string? address = null, int? pid = null)
    {
        if (!IsActive(sandbox))
        {
            return;
        }

        hub.Publish(sandbox, LiveMessage.Signal(Channel, new SignalEvent("port", port, url, type, Address: address, Pid: pid)));
    }

    public void EmitError(SandboxContext sandbox, string message)
    {
        if (IsActive(sandbox))
        {
            hub.Publish(sandbox, LiveMessage.Signal(Channel, new SignalEvent("error", Message: message)));
        }
    }

    public void EmitServerReady(SandboxContext sandbox, int port, string url)
    {
        if (IsActive(sandbox))
        {
            hub.Publish(sandbox, LiveMessage.Signal(Channel, new SignalEvent("server-ready", port, url)));
        }
    }
}
