namespace Sandboxd.Client.Gateway;

/// <summary>Tuning for a <see cref="GatewayClient"/>; the defaults follow the official client (computesdk 2.5.4).</summary>
public sealed record GatewayClientOptions
{
    /// <summary>The <c>X-Provider</c> header sent with every call (the official client always sends its provider name);
    /// null sends none. A sandboxd gateway accepts any value: the answer's <c>provider</c> names the real backend.</summary>
    public string? Provider { get; init; } = "sandboxd";

    /// <summary>How long one gateway call may take (the official client's <c>requestTimeoutMs</c>, 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long findOrCreate keeps asking while the gateway answers <c>status:"creating"</c> (60 s); the
    /// delay between two asks starts at 500 ms and grows ×1.5 up to 2 s, as in the official client.</summary>
    public TimeSpan CreatingTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a returned sandbox may take to answer its first <c>GET /health</c> before the call fails (60 s).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Options of the <see cref="SandboxClient"/> of every returned sandbox.</summary>
    public SandboxClientOptions SandboxClientOptions { get; init; } = SandboxClientOptions.Default;

    /// <summary>Time source for the polling delays.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The defaults.</summary>
    public static GatewayClientOptions Default { get; } = new();
}
