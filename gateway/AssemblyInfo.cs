// The agent drives Linux process groups, PTYs, epoll and /proc; it does not run anywhere else.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
