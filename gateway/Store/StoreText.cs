namespace Sandboxd.Gateway.Store;

/// <summary>What both stores write the same way: statuses as text, the lease names.</summary>
internal static class StoreText
{
    /// <summary>The lease whose holder destroys expired sandboxes and repairs those whose gateway died.</summary>
    public const string SweepLease = "sweep";

    public static string StatusName(SandboxStatus status) => status switch
    {
        SandboxStatus.Creating => "creating",
        SandboxStatus.Ready => "ready",
        SandboxStatus.Destroying => "destroying",
        _ => "gone",
    };

    public static SandboxStatus ParseStatus(string status) => status switch
    {
        "creating" => SandboxStatus.Creating,
        "ready" => SandboxStatus.Ready,
        "destroying" => SandboxStatus.Destroying,
        _ => SandboxStatus.Gone,
    };
}

/// <summary>The store cannot be used as it is (e.g. its schema is newer than this gateway): the gateway does not start.</summary>
internal sealed class StoreException(string message) : Exception(message);
