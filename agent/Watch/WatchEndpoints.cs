using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Protocol;

namespace Sandboxd.Watch;

internal static class WatchEndpoints
{
    public static async Task<Results<JsonHttpResult<Envelope<WatcherInfo>>, JsonHttpResult<ErrorResponse>>> CreateAsync(HttpContext http, SandboxContext sandbox, WatcherService watchers, PublicUrls urls, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.CreateWatcherRequest, cancellationToken);

        var request = body;
        if (!FilePaths.TryResolve(sandbox, request.Path, out var path, out var error))
        {
            return Api.BadRequest(error == "A file path is required." ? "Field 'path' is required." : error!);
        }

        if (!Directory.Exists(path))
        {
            return File.Exists(path) ? Api.BadRequest($"{path} is not a directory; watchers watch directories.") : Api.NotFound($"{path} does not exist.");
        }

        var encoding = request.Encoding ?? "raw";
        if (encoding is not ("raw" or "base64"))
        {
            return Api.BadRequest($"Field 'encoding' must be \"raw\" or \"base64\", not \"{encoding}\".");
        }

        Watcher watcher;
        try
        {
            watcher = watchers.Create(sandbox, path, request.IncludeContent ?? false, request.Ignored ?? [], encoding);
        }
        catch (InvalidOperationException e)
        {
            return Api.Error(ErrorKind.Unavailable, "Cannot watch: " + e.Message);
        }

        return Api.Ok(ToInfo(watcher, urls.WebSocketUrl(http)), ProtocolJsonContext.Default.EnvelopeWatcherInfo, "watcher created", StatusCodes.Status201Created);
    }

    public static JsonHttpResult<Envelope<WatcherList>> List(SandboxContext sandbox) =>
        Api.Ok(new WatcherList([.. WatcherService.Registry(sandbox).Values.Select(w => ToInfo(w, null))]), ProtocolJsonContext.Default.EnvelopeWatcherList);

    public static Results<JsonHttpResult<Envelope<WatcherInfo>>, JsonHttpResult<ErrorResponse>> Get(string id, HttpContext http, SandboxContext sandbox, PublicUrls urls) =>
        WatcherService.Registry(sandbox).TryGetValue(id, out var watcher)
            ? Api.Ok(ToInfo(watcher, urls.WebSocketUrl(http)), ProtocolJsonContext.Default.EnvelopeWatcherInfo)
            : Api.NotFound($"Watcher {id} not found.");

    public static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DestroyAsync(string id, SandboxContext sandbox, WatcherService watchers) =>
        await watchers.DestroyAsync(sandbox, id) ? Api.NoContent() : Api.NotFound($"Watcher {id} not found.");

    private static WatcherInfo ToInfo(Watcher watcher, string? wsUrl) =>
        new(watcher.Id, watcher.Path, watcher.IncludeContent, watcher.Ignored, watcher.Stopped ? "stopped" : "active", watcher.Channel,
            wsUrl, watcher.Encoding, watcher.Directory?.Mode, watcher.Directory?.Warning);
}
