using Sandboxd.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Info;

internal static class InfoEndpoints
{
    public static JsonHttpResult<HealthResponse> Health(TimeProvider time) =>
        Api.Raw(new HealthResponse("ok", time.GetUtcNow().UtcDateTime), ProtocolJsonContext.Default.HealthResponse);

    public static JsonHttpResult<Envelope<InfoData>> GetInfo(HttpContext http, SandboxRegistry registry, TokenValidator tokens, PublicUrls urls) =>
        Api.Ok(new InfoData(tokens.AuthEnabled, registry.Main.Subdomain, registry.Count, urls.RootUrl(http), AgentVersion.Current,
            Native.WorkloadUser.Current is { Switches: true } user ? new IsolationInfo(user.Name) : new IsolationInfo(null, Native.WorkloadUser.Current.Reason),
            Native.CgroupHost.Current is var cgroups
                ? new LimitsInfo(cgroups.Version, cgroups.CanLimitMemory, cgroups.CanLimitPids, cgroups.CanLimitMemory && cgroups.CanLimitPids ? null : cgroups.Reason ?? "no writable pids controller")
                : null),
            ProtocolJsonContext.Default.EnvelopeInfoData);

    public static JsonHttpResult<ReadyResponse> Ready(HttpContext http, SandboxContext sandbox, IEnumerable<IReadinessContributor> contributors)
    {
        var servers = new List<ReadyServer>();
        var overlays = new List<ReadyOverlay>();
        foreach (var contributor in contributors)
        {
            contributor.Contribute(sandbox, http, servers, overlays);
        }

        var ready = servers.All(s => s.Port is not null) && overlays.All(o => o.CopyStatus == "complete");
        var withHealth = servers.Where(s => s.HealthCheck is not null).ToList();
        bool? healthy = withHealth.Count == 0 ? null : withHealth.All(s => s.Healthy == true);
        return Api.Raw(new ReadyResponse(ready, servers, overlays, healthy), ProtocolJsonContext.Default.ReadyResponse);
    }
}
