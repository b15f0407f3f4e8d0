[assembly: AssemblyFixture(typeof(Sandboxd.Tests.Infrastructure.AgentBinaryFixture))]

namespace Sandboxd.Tests.Infrastructure;

/// <summary>Resolves (and if needed builds) the agent before the first test, outside any test's timeout.</summary>
public sealed class AgentBinaryFixture : IAsyncLifetime
{
    public AgentBinary Binary { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Binary = await AgentBinary.GetAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
