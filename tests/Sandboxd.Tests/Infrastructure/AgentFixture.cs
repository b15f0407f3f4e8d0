namespace Sandboxd.Tests.Infrastructure;

/// <summary>One agent shared by the tests of a class (they must not change its global state).</summary>
public class AgentFixture : IAsyncLifetime
{
    private AgentProcess? _agent;

    public AgentProcess Agent => _agent ?? throw new InvalidOperationException("The agent has not started.");

    public AgentClient Client => Agent.Client;

    protected virtual AgentLaunch Launch => AgentLaunch.Default;

    public async ValueTask InitializeAsync() => _agent = await AgentProcess.StartAsync(Launch, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
