namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>The agent most tests share (each test works in its own directory and its own client).</summary>
public sealed class SharedAgent : IAsyncLifetime
{
    public Agent Agent { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Agent = await Agent.StartAsync();

    public ValueTask DisposeAsync() => Agent?.DisposeAsync() ?? ValueTask.CompletedTask;
}
