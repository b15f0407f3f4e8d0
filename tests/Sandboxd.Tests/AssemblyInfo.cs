using System.Runtime.Versioning;

// The agent is Linux-only (posix_spawn, /proc, process groups), and so are its end-to-end tests.
[assembly: SupportedOSPlatform("linux")]
