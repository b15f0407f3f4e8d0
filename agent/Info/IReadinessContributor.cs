using Sandboxd.Protocol;
using Sandboxd.Sandboxes;

namespace Sandboxd.Info;

/// <summary>A feature that has something to say in <c>GET /ready</c> (servers, overlays).</summary>
internal interface IReadinessContributor
{
    void Contribute(SandboxContext sandbox, HttpContext http, List<ReadyServer> servers, List<ReadyOverlay> overlays);
}
