namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>An agent of one test class, logging at Debug so tests can see when it noticed a dropped socket.</summary>
public sealed class DebugAgent : IAsyncLifetime
{
    public Agent Agent { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Agent = await Agent.StartAsync(["--log-level", "Debug"]);

    public ValueTask DisposeAsync() => Agent?.DisposeAsync() ?? ValueTask.CompletedTask;
}
