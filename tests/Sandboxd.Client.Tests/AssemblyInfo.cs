using System.Runtime.Versioning;

// The agent is Linux-only, and so are the tests that drive it (tmux, process groups, PTYs).
[assembly: SupportedOSPlatform("linux")]
[assembly: AssemblyFixture(typeof(Sandboxd.Client.Tests.Infrastructure.SharedAgent))]
