using Sandboxd.Protocol;

namespace Sandboxd.Core;

// What one feature needs of another, named here so that features import the kernel and never each other
// (docs/architecture.md). Each is implemented by the feature that owns the state and registered in its Add… method.

/// <summary>Overlays as other features use them (implemented by <c>Overlays/OverlayService</c>).</summary>
internal interface ISandboxOverlays
{
    /// <summary>Creates an overlay in <paramref name="sandbox"/>: its id, or null and why not.</summary>
    Task<(string? Id, string? Error)> CreateAsync(SandboxContext sandbox, CreateOverlayRequest request, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="sandbox"/> has an overlay with this id.</summary>
    bool Exists(SandboxContext sandbox, string id);

    /// <summary>Waits until the overlay has finished copying: null when it is complete, else why it failed.</summary>
    Task<string?> WaitAsync(SandboxContext sandbox, string id, CancellationToken cancellationToken);

    /// <summary>The overlays of <paramref name="sandbox"/> in creation order, in their wire shape.</summary>
    IReadOnlyList<SandboxOverlay> Describe(SandboxContext sandbox);
}

/// <summary>Supervised servers as other features use them (implemented by <c>Servers/ServerSupervisor</c>).</summary>
internal interface ISandboxServers
{
    /// <summary>Why <paramref name="request"/> is not a valid server definition, or null when it is.</summary>
    string? Validate(StartServerRequest request);

    /// <summary>Starts a server in <paramref name="sandbox"/>: null, or why it could not start (e.g. its strict port is taken).</summary>
    Task<string?> StartAsync(SandboxContext sandbox, StartServerRequest request, CancellationToken cancellationToken);

    /// <summary>The servers of <paramref name="sandbox"/> in creation order, in their wire shape.</summary>
    IReadOnlyList<SandboxServer> Describe(SandboxContext sandbox);

    /// <summary>Whether a server marked public listens on <paramref name="port"/> (previews need no token for it).</summary>
    bool IsPublicPort(int port);
}

/// <summary>The <c>signals</c> channel as other features publish to it (implemented by <c>Signals/SignalService</c>).</summary>
internal interface ISignalEmitter
{
    /// <summary>A port of <paramref name="sandbox"/> opened or closed.</summary>
    void EmitPort(SandboxContext sandbox, int port, string type, string url, string? address = null, int? pid = null);

    /// <summary>A server of <paramref name="sandbox"/> answers on <paramref name="port"/>.</summary>
    void EmitServerReady(SandboxContext sandbox, int port, string url);
}
