using Sandboxd.Protocol;

namespace Sandboxd.Core;

/// <summary>A feature that has something to say in <c>GET /ready</c> (servers, overlays).</summary>
internal interface IReadinessContributor
{
    void Contribute(SandboxContext sandbox, HttpContext http, List<ReadyServer> servers, List<ReadyOverlay> overlays);
}
