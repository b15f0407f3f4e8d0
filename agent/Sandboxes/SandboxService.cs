using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Sandboxes;

/// <summary>Creates and destroys child sandboxes: own root, own env layer, own overlays, servers, terminals and watchers.</summary>
internal sealed class SandboxService(
    SandboxRegistry registry,
    ISandboxOverlays overlays,
    ISandboxServers servers,
    IEnumerable<ISandboxScoped> scoped,
    LiveHub hub,
    AgentOptions options,
    TimeProvider time)
{
    /// <exception cref="SandboxdException">Invalid: the directory or a server definition is wrong.</exception>
    public async Task<(SandboxContext Context, bool Created)> CreateAsync(CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        var directory = request.Directory;
        if (directory is not null && (directory.Length == 0 || directory.Contains('\0', StringComparison.Ordinal)))
        {
            throw SandboxdException.Invalid("Field 'directory' must be a non-empty path.");
        }

        if (directory is not null && registry.Main.IsProtected(registry.Main.Resolve(directory)))
        {
            throw SandboxdException.Invalid("Field 'directory' must not be inside the agent's state directory.");
        }

        // Validate servers before creating anything, so a bad definition leaves nothing half-made.
        foreach (var server in request.Servers ?? [])
        {
            if (servers.Validate(server) is { } error)
            {
                throw SandboxdException.Invalid($"servers[{server.Slug}]: {error}");
            }
        }

        var (context, created) = registry.GetOrCreate(request.Name, request.Namespace, subdomain => new ChildRecord(
            subdomain,
            directory is null ? Path.Combine(options.ChildSandboxesDir, subdomain) : registry.Main.Resolve(directory),
            time.GetUtcNow().UtcDateTime,
            request.Name,
            request.Namespace,
            request.Envs is null ? null : new Dictionary<string, string>(request.Envs),
            request.Metadata));
        if (!created)
        {
            return (context, false);
        }

        foreach (var overlay in request.Overlays ?? [])
        {
            await overlays.CreateAsync(context, overlay, cancellationToken).ConfigureAwait(false);
        }

        foreach (var server in request.Servers ?? [])
        {
            await servers.StartAsync(context, server, cancellationToken).ConfigureAwait(false);
        }

        return (context, true);
    }

    public void AnnounceCreated(SandboxContext context, string url) =>
        hub.BroadcastAll(LiveMessage.Sandbox("sandbox.created", new SandboxEvent(context.Subdomain, url)));

    public async Task<bool> DestroyAsync(string subdomain, bool deleteFiles)
    {
        if (!registry.Remove(subdomain, out var context))
        {
            return false;
        }

        foreach (var feature in scoped)
        {
            await feature.CloseAsync(context).ConfigureAwait(false);
        }

        hub.CloseWhere(c => c.Sandbox == context, "sandbox deleted");
        if (deleteFiles && Directory.Exists(context.Root))
        {
            FileSystem.TreeCopier.DeleteEntry(context.Root);
        }

        hub.BroadcastAll(LiveMessage.Sandbox("sandbox.deleted", new SandboxEvent(subdomain)));
        return true;
    }

    public string Url(HttpContext http, SandboxContext context)
    {
        if (context.IsMain)
        {
            return options.PublicUrl ?? $"{http.Request.Scheme}://{http.Request.Host}";
        }

        if (options.SandboxDomain is { } domain)
        {
            var scheme = options.PublicUrl is { } p && p.StartsWith("https", StringComparison.Ordinal) ? "https" : http.Request.Scheme;
            return $"{scheme}://{context.Subdomain}.{domain}{(http.Request.Host.Port is { } port ? ":" + port : "")}";
        }

        return (options.PublicUrl ?? $"{http.Request.Scheme}://{http.Request.Host}") + "/s/" + context.Subdomain;
    }

    public SandboxInfo ToInfo(HttpContext http, SandboxContext context)
    {
        var record = context.IsMain ? null : registry.Record(context);
        return new SandboxInfo(
            context.Subdomain,
            context.Root,
            context.IsMain,
            record?.CreatedAt ?? context.CreatedAt,
            Url(http, context),
            [.. overlays.Describe(context)],
            [.. servers.Describe(context)],
            record?.Name,
            record?.Namespace,
            record?.Metadata);
    }
}
