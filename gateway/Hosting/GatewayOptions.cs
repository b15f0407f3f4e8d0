namespace Sandboxd.Gateway.Hosting;

/// <summary>What <c>sandboxd-gateway start</c> was told on its command line.</summary>
internal sealed class GatewayOptions
{
    public int Port { get; set; } = 18090;
    public string Host { get; set; } = "127.0.0.1";
    public List<string> ApiKeys { get; } = [];
    public string? ApiKeysFile { get; set; }
    public string StateDir { get; set; } = "";
    public string? AgentPath { get; set; }
    public string? PublicUrl { get; set; }
    public string LogLevel { get; set; } = "Information";

    /// <summary><c>local</c> (default) or <c>docker</c>.</summary>
    public string Provider { get; set; } = "local";

    /// <summary>The label value that marks containers as this gateway's (default: generated once, kept in the state dir).</summary>
    public string? GatewayId { get; set; }

    public Docker.DockerOptions Docker { get; } = new();

    /// <summary>Run agents without bubblewrap even where it is installed (they are then not isolated).</summary>
    public bool NoIsolation { get; set; }

    /// <summary><c>--store</c>: null for SQLite in the state dir, <c>sqlite:PATH</c>, or a PostgreSQL URL / connection string.</summary>
    public string? Store { get; set; }

    /// <summary>This process among the gateways sharing a store (new at every start; not an option).</summary>
    public string InstanceId { get; } = Ids.New("gw");
}
