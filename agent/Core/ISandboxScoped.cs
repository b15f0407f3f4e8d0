namespace Sandboxd.Core;

/// <summary>A feature that holds per-sandbox resources (terminals, watchers, servers, overlays) and releases them
/// when a child sandbox is destroyed. Implemented by the features; called by the sandboxes feature.</summary>
internal interface ISandboxScoped
{
    Task CloseAsync(SandboxContext sandbox);
}
