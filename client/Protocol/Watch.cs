using System.Text.Json.Serialization;

namespace Sandboxd.Protocol;

/// <summary><c>POST /watchers</c> (note the camelCase <c>includeContent</c>).</summary>
public sealed record CreateWatcherRequest(
    string? Path,
    [property: JsonPropertyName("includeContent")] bool? IncludeContent = null,
    IReadOnlyList<string>? Ignored = null,
    string? Encoding = null);

/// <summary>A file watcher (<c>POST/GET /watchers…</c>). <see cref="Mode"/> is "inotify" or "polling".</summary>
public sealed record WatcherInfo(
    string Id,
    string Path,
    [property: JsonPropertyName("includeContent")] bool IncludeContent,
    IReadOnlyList<string> Ignored,
    string Status,
    string Channel,
    string? WsUrl = null,
    string? Encoding = null,
    string? Mode = null,
    string? Warning = null);

/// <summary><c>GET /watchers</c> data.</summary>
public sealed record WatcherList(IReadOnlyList<WatcherInfo> Watchers);
