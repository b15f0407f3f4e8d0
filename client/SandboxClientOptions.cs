namespace Sandboxd.Client;

/// <summary>Tuning for a <see cref="SandboxClient"/>'s WebSocket; the defaults suit interactive use.</summary>
public sealed record SandboxClientOptions
{
    /// <summary>The first reconnection delay; it doubles per failed attempt (with ±50 % jitter) up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectInitialDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest delay between two reconnection attempts.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>After failing to connect for this long, every open stream fails with <see cref="SandboxdException"/>.</summary>
    public TimeSpan ReconnectGiveUpAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the WebSocket pings the agent.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A ping unanswered for this long drops the connection (and a reconnection starts), so a silently dead
    /// network path is noticed; <see cref="Timeout.InfiniteTimeSpan"/> disables it.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How many received messages a stream buffers before the socket waits for its consumer.</summary>
    public int StreamBufferCapacity { get; init; } = 4096;

    /// <summary>Time source for reconnection delays.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The defaults.</summary>
    public static SandboxClientOptions Default { get; } = new();
}
