namespace Sandboxd.Protocol;

/// <summary><c>/signals/start|status|stop</c> data.</summary>
public sealed record SignalStatusData(string Status, string Channel, string? WsUrl = null);

/// <summary><c>POST /signals/port</c> and <c>/signals/server-ready</c> body.</summary>
public sealed record PortSignalRequest(double? Port, string? Type = null, string? Url = null);

/// <summary>A port signal as answered by the emit routes.</summary>
public sealed record PortSignalData(int Port, string Type, string Url);

/// <summary><c>POST /signals/error</c> body and answer.</summary>
public sealed record ErrorSignalData(string? Message);
