using System.Collections.Concurrent;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.FileSystem;
using Sandboxd.Protocol;

namespace Sandboxd.Overlays;

/// <summary>
/// Bootstraps directories from templates. <c>smart</c> (default): package directories (node_modules, .venv, venv and
/// <c>--overlay-package-dirs</c>) become symlinks to the template, small files are copied before answering, large
/// files in the background. <c>copy</c>: every file outside package directories is copied before answering, package
/// directories in the background. Failures end in <c>failed</c> with a reason; they never take the agent down.
/// </summary>
internal sealed class OverlayService(AgentOptions options, TimeProvider time, ILogger<OverlayService> logger) : IAsyncDisposable, ISandboxScoped, ISandboxOverlays
{
    /// <summary>A destroyed sandbox: stop background copies (its files are the sandbox's to delete or keep).</summary>
    public async Task CloseAsync(SandboxContext sandbox)
    {
        foreach (var (_, overlay) in Registry(sandbox))
        {
            await StopAsync(overlay).ConfigureAwait(false);
        }

        Registry(sandbox).Clear();
    }

    public const long SmallFileBytes = 256 * 1024;
    private readonly HashSet<string> _packageNames = new(
        ["node_modules", ".venv", "venv", .. options.OverlayPackageDirs], StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Overlay, byte> _all = new();

    public static ConcurrentDictionary<string, Overlay> Registry(SandboxContext sandbox) =>
        sandbox.Feature(() => new ConcurrentDictionary<string, Overlay>(StringComparer.Ordinal));

    public static IEnumerable<Overlay> List(SandboxContext sandbox) => Registry(sandbox).Values.OrderBy(o => o.CreatedAt);

    /// <summary>The template and target directories and the strategy of a create request.</summary>
    /// <exception cref="SandboxdException">Invalid: a field is missing or wrong, or the template is not a directory.</exception>
    private static (string Source, string Target, string Strategy) Validate(SandboxContext sandbox, CreateOverlayRequest request)
    {
        if (string.IsNullOrEmpty(request.Source))
        {
            throw SandboxdException.Invalid("Field 'source' is required (an absolute template directory).");
        }

        if (string.IsNullOrEmpty(request.Target))
        {
            throw SandboxdException.Invalid("Field 'target' is required (a path relative to the sandbox root).");
        }

        if (request.Source.Contains('\0', StringComparison.Ordinal) || request.Target.Contains('\0', StringComparison.Ordinal))
        {
            throw SandboxdException.Invalid("Fields 'source' and 'target' must not contain NUL characters."); // no path can
        }

        var strategy = request.Strategy ?? "smart";
        if (strategy is not ("smart" or "copy"))
        {
            throw SandboxdException.Invalid($"Field 'strategy' must be \"smart\" or \"copy\" (got \"{strategy}\").");
        }

        var source = sandbox.Resolve(request.Source);
        if (!Directory.Exists(source))
        {
            throw SandboxdException.Invalid($"Template directory {request.Source} does not exist or is not a directory.");
        }

        var target = sandbox.Resolve(request.Target);
        if (target == source || target.StartsWith(source + "/", StringComparison.Ordinal))
        {
            throw SandboxdException.Invalid("The target must not be inside the template.");
        }

        return (source, target, strategy);
    }

    /// <exception cref="SandboxdException">Invalid: a field is missing or wrong, or the template cannot be read.</exception>
    public async Task<Overlay> CreateAsync(SandboxContext sandbox, CreateOverlayRequest request, CancellationToken cancellationToken)
    {
        var (source, target, strategy) = Validate(sandbox, request);
        CopyPlan plan;
        try
        {
            plan = TreeCopier.Plan(source, new Glob(request.Ignore), _packageNames, strategy == "smart" ? SmallFileBytes : long.MaxValue);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw SandboxdException.Invalid($"Cannot read the template {source}: {e.Message}");
        }

        // Source and Target are non-empty: Validate checked them.
        var overlay = new Overlay(request.Source!, request.Target!, target, strategy, plan.Skipped, time);
        Registry(sandbox)[overlay.Id] = overlay;
        _all[overlay] = 0;
        try
        {
            TreeCopier.CreateDirectories(source, target, plan.Directories);
            TreeCopier.CreateSymlinks(target, plan.Symlinks);
            if (strategy == "smart")
            {
                TreeCopier.LinkDirectories(source, target, plan.PackageDirs);
                overlay.DirectoriesLinked(plan.PackageDirs.Count);
            }

            await TreeCopier.CopyFilesAsync(source, target, plan.FilesNow, overlay.FileCopied, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(overlay, e);
            return overlay;
        }

        var later = plan.FilesLater;
        var packages = strategy == "copy" ? plan.PackageDirs : [];
        if (later.Count == 0 && packages.Count == 0)
        {
            TreeCopier.CopyDirectoryTimes(source, target, plan.Directories);
            overlay.SetStatus("complete");
            return overlay;
        }

        overlay.SetStatus("in_progress");
        overlay.Background = CopyInBackgroundAsync(overlay, source, target, plan, later, packages);
        return overlay;
    }

    private async Task CopyInBackgroundAsync(Overlay overlay, string source, string target, CopyPlan plan, List<string> files, List<string> packages)
    {
        await Task.Yield();
        var token = overlay.Cancel.Token;
        try
        {
            await TreeCopier.CopyFilesAsync(source, target, files, overlay.FileCopied, token).ConfigureAwait(false);
            await TreeCopier.CopyTreesAsync(source, target, packages, overlay.FileCopied, overlay.DirectoryCopied, token).ConfigureAwait(false);

            TreeCopier.CopyDirectoryTimes(source, target, plan.Directories);
            overlay.SetStatus("complete");
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            overlay.SetStatus("failed", "cancelled: the overlay was destroyed before its copy finished");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(overlay, e);
        }
    }

    private void Failed(Overlay overlay, Exception e)
    {
        var reason = (e.HResult & 0xFFFF) == 28 ? "no space left on device" : e.Message;
        overlay.SetStatus("failed", reason);
        logger.OverlayFailed(overlay.Id, reason);
    }

    /// <summary>Waits until the overlay's copy is complete (or failed).</summary>
    public static async Task<string> WaitAsync(Overlay overlay, CancellationToken cancellationToken)
    {
        await overlay.Background.WaitAsync(cancellationToken).ConfigureAwait(false);
        return overlay.Status;
    }

    async Task<(string? Id, string? Error)> ISandboxOverlays.CreateAsync(SandboxContext sandbox, CreateOverlayRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return ((await CreateAsync(sandbox, request, cancellationToken).ConfigureAwait(false)).Id, null);
        }
        catch (SandboxdException e)
        {
            return (null, e.Message);
        }
    }

    bool ISandboxOverlays.Exists(SandboxContext sandbox, string id) => Registry(sandbox).ContainsKey(id);

    async Task<string?> ISandboxOverlays.WaitAsync(SandboxContext sandbox, string id, CancellationToken cancellationToken)
    {
        if (!Registry(sandbox).TryGetValue(id, out var overlay))
        {
            return "it no longer exists";
        }

        return await WaitAsync(overlay, cancellationToken).ConfigureAwait(false) == "failed" ? overlay.ToInfo().CopyError ?? "failed" : null;
    }

    IReadOnlyList<SandboxOverlay> ISandboxOverlays.Describe(SandboxContext sandbox) =>
        [.. List(sandbox).Select(o => new SandboxOverlay(o.Id, o.Source, o.Target, o.Status))];

    public async Task<bool> DestroyAsync(SandboxContext sandbox, string id)
    {
        if (!Registry(sandbox).TryRemove(id, out var overlay))
        {
            return false;
        }

        await StopAsync(overlay).ConfigureAwait(false);
        try
        {
            TreeCopier.DeleteEntry(overlay.TargetPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.OverlayFailed(overlay.Id, "removing the target failed: " + e.Message);
        }

        return true;
    }

    /// <remarks>
    /// A destroy, the sandbox's deletion and the agent's shutdown can reach one overlay at once, and a stop can come
    /// before the background copy has started: the token source is cancelled, never disposed (it has no timer and no
    /// wait handle to release), so a late reader of its token sees "cancelled" rather than an ObjectDisposedException.
    /// </remarks>
    private async Task StopAsync(Overlay overlay)
    {
        _all.TryRemove(overlay, out _);
        await overlay.Cancel.CancelAsync().ConfigureAwait(false);
        await overlay.Background.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var overlay in _all.Keys)
        {
            await StopAsync(overlay).ConfigureAwait(false);
        }
    }
}
