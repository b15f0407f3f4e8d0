namespace Sandboxd.Servers;

/// <summary>The status values of spec §12.3 (the client accepts no others).</summary>
internal static class ServerStatus
{
    public const string Installing = "installing";
    public const string Starting = "starting";
    public const string Running = "running";
    public const string Ready = "ready";
    public const string Failed = "failed";
    public const string Stopped = "stopped";
    public const string Restarting = "restarting";

    public static readonly string[] All = [Installing, Starting, Running, Ready, Failed, Stopped, Restarting];
}
