using System.Runtime.Versioning;

// The agent is Linux-only (posix_spawn, /proc, process groups), and so is its reliability suite.
[assembly: SupportedOSPlatform("linux")]
