// The agent drives Linux process groups, PTYs, epoll and /proc; it does not run anywhere else.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// In-process unit tests of pure logic (expiry, backoff) drive it with a FakeTimeProvider.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Sandboxd.Tests")]
