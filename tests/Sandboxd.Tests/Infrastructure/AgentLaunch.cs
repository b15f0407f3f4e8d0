namespace Sandboxd.Tests.Infrastructure;

/// <summary>How a test wants its agent started.</summary>
public sealed record AgentLaunch
{
    /// <summary>Pass <c>--access-token &lt;random&gt;</c> (the default). False = the agent must find or make its own token.</summary>
    public bool PassAccessToken { get; init; } = true;

    /// <summary>Extra command-line arguments after the standard ones (e.g. <c>--output-cap 4096</c>).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Environment changes for the agent process; a null value removes the variable.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Use this state directory instead of a fresh one (it is then not deleted on dispose).</summary>
    public string? StateDir { get; init; }

    /// <summary>A program (and its arguments) that execs the agent, e.g. <c>prlimit --nofile=256:</c>; the pid stays the agent's.</summary>
    public IReadOnlyList<string> Wrapper { get; init; } = [];

    public static AgentLaunch Default { get; } = new();

    public static AgentLaunch With(params string[] extraArguments) => new() { ExtraArguments = extraArguments };
}
