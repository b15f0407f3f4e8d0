using Sandboxd.Gateway.Native;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Sandboxd.Gateway.Hosting;
using Sandboxd.Gateway.Store;

namespace Sandboxd.Gateway.Providers;

/// <summary>
/// The embedded default: each sandbox is its own <c>sandboxd start</c> process on this host, in its own session (so
/// it survives a gateway restart), with its own root, port (<c>--port 0</c>, read from its ready line), state dir and
/// generated access token (a 0600 file, never argv or env) — under bubblewrap where it is installed.
/// </summary>
internal sealed partial class LocalProvider(GatewayOptions options, TimeProvider time, IHttpClientFactory http, ILogger<LocalProvider> logger)
    : IProvider, IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Agents this gateway process started (it is their parent and must reap them); not those of an earlier run.</summary>
    private readonly ConcurrentDictionary<string, Process> _children = new();

    public string Name => "local";

    /// <summary>bwrap's path when agents are isolated, else null.</summary>
    public string? Isolation { get; } = options.NoIsolation ? null : Bubblewrap.Find();

    public SandboxPlacement Place(string sandboxId, SandboxSpec spec, IReadOnlyList<SandboxRecord> active)
    {
        var dir = Path.Combine(options.StateDir, "sandboxes", sandboxId);
        if (Isolation is null && spec.Directory is { } ignored)
        {
            logger.DirectoryIgnored(sandboxId, ignored);
        }

        var root = Isolation is not null && spec.Directory is { } directory ? directory : Path.Combine(dir, "root");
        return new SandboxPlacement(dir, root);
    }

    public async Task<AgentStarted> StartAsync(SandboxRecord record, SandboxSpec spec, CancellationToken cancellationToken)
    {
        var files = Prepare(record, spec);
        if (spec.Snapshot is { } archive)
        {
            await ExtractAsync(archive, files.HostRoot, cancellationToken);
        }

        var process = Launch(record, spec, files);
        _children[record.Id] = process;
        var url = await WaitForReadyAsync(process, files.Log, cancellationToken);
        var pid = Isolation is null ? process.Id : await FindAgentInNamespaceAsync(process, cancellationToken);
        var start = ProcessProbe.Read(pid)?.StartTicks
            ?? throw new GatewayException(GatewayErrorCode.AgentFailed, $"The agent of {record.Id} exited right after it became ready:\n{LogTail(files.Log)}");
        logger.AgentStarted(record.Id, pid, url, Isolation is null ? "not isolated" : "bubblewrap");
        return new AgentStarted(url, files.Token, pid, start, record.Root);
    }

    public bool IsAlive(SandboxRecord record) => ProcessProbe.IsSame(record.AgentPid, record.AgentStartTicks);

    public Task<bool> IsAliveAsync(SandboxRecord record, CancellationToken cancellationToken) => Task.FromResult(IsAlive(record));

    public bool IsReachable(SandboxRecord record) => true;

    public Task<string?> CurrentUrlAsync(SandboxRecord record, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public bool HasSnapshot(string location) => File.Exists(location);

    public Task DeleteSnapshotAsync(string location, CancellationToken cancellationToken)
    {
        File.Delete(location);
        return Task.CompletedTask;
    }

    /// <summary>Nothing to do: a local agent caught mid-create is found by its command line when its record is reconciled.</summary>
    public Task RemoveOrphansAsync(Func<CancellationToken, Task<IReadOnlyList<SandboxRecord>>> active, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public async Task<bool> ProbeAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        if (!IsAlive(record) || record.Url is null)
        {
            return false;
        }

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, record.Url + "/health");
            request.Headers.Authorization = new("Bearer", record.Token);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            using var response = await http.CreateClient("agents").SendAsync(request, timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>A gzip'd tar of the root in <c>&lt;state&gt;/snapshots/&lt;id&gt;.tar.gz</c> (0600); the path is the location.</summary>
    public async Task<string> SnapshotAsync(SandboxRecord record, string snapshotId, CancellationToken cancellationToken)
    {
        var archivePath = Path.Combine(options.StateDir, "snapshots", snapshotId + ".tar.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(archivePath)!);
        var temp = archivePath + ".partial";
        await using (var file = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            await TarFile.CreateFromDirectoryAsync(HostRoot(record), gzip, includeBaseDirectory: false, cancellationToken);
        }

        File.Move(temp, archivePath, overwrite: true);
        return archivePath;
    }

    private static async Task ExtractAsync(string archive, string root, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(archive);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await TarFile.ExtractToDirectoryAsync(gzip, root, overwriteFiles: true, cancellationToken);
    }

    private static string HostRoot(SandboxRecord record) => Path.Combine(record.Dir, "root");

    private static string NewToken() => Convert.ToHexStringLower(LibC.RandomBytes(32));

    public void Dispose()
    {
        // Agents outlive the gateway by design: only the Process handles are released, nothing is signalled.
        // TryRemove: a destroy still running past the host's shutdown timeout may hold one of them; whoever removes a
        // handle disposes it, so neither disposes the other's.
        foreach (var id in _children.Keys)
        {
            if (_children.TryRemove(id, out var process))
            {
                process.Dispose();
            }
        }
    }
}
