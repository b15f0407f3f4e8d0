using System.Net;

namespace Sandboxd.Client.Tests;

/// <summary>Raw bytes and directory trees through the C# client (sandboxd extensions), and the process routes.</summary>
public sealed class TransferTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 180_000)]
    public async Task Random_bytes_upload_and_download_identically_with_progress()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("transfer-bytes");
        await using var client = _agent.Client();
        var bytes = new byte[64 * 1024 * 1024 + 13];
        Random.Shared.NextBytes(bytes);
        bytes[0] = 0xc3; // a truncated UTF-8 sequence: invalid
        bytes[1] = 0x28;
        long reportedUp = 0;
        long reportedDown = 0;

        var entry = await client.Files.UploadAsync(Path.Combine(dir, "r.bin"), new MemoryStream(bytes), new SyncProgress(v => reportedUp = v), "0640", cancellationToken: ct);
        using var back = new MemoryStream();
        var received = await client.Files.DownloadToAsync(Path.Combine(dir, "r.bin"), back, new SyncProgress(v => reportedDown = v), ct);

        entry.Size.Should().Be(bytes.Length);
        received.Should().Be(bytes.Length);
        back.ToArray().AsSpan().SequenceEqual(bytes).Should().BeTrue("the bytes come back identical");
        reportedUp.Should().Be(bytes.Length);
        reportedDown.Should().Be(bytes.Length);
        File.GetUnixFileMode(Path.Combine(dir, "r.bin")).Should().Be((UnixFileMode)Convert.ToInt32("640", 8));
    }

    [Fact(Timeout = 180_000)]
    public async Task A_directory_tree_goes_in_and_comes_back_without_the_ignored_names()
    {
        var ct = TestContext.Current.CancellationToken;
        var remote = _agent.NewDirectory("transfer-tree");
        var local = Directory.CreateTempSubdirectory("sandboxd-tree-").FullName;
        try
        {
            var source = Path.Combine(local, "src");
            Directory.CreateDirectory(Path.Combine(source, "deep", "er"));
            Directory.CreateDirectory(Path.Combine(source, "node_modules", "pkg"));
            var blob = new byte[300_000];
            Random.Shared.NextBytes(blob);
            await File.WriteAllBytesAsync(Path.Combine(source, "deep", "er", "blob.bin"), blob, ct);
            await File.WriteAllTextAsync(Path.Combine(source, "node_modules", "pkg", "index.js"), "x", ct);
            File.CreateSymbolicLink(Path.Combine(source, "link"), "deep/er/blob.bin");

            var result = await client().Files.UploadDirectoryAsync(source, Path.Combine(remote, "in"), cancellationToken: ct);
            await client().Files.DownloadDirectoryAsync(Path.Combine(remote, "in"), Path.Combine(local, "back"), ["node_modules"], cancellationToken: ct);

            result.Files.Should().Be(2);
            (await File.ReadAllBytesAsync(Path.Combine(remote, "in", "deep", "er", "blob.bin"), ct)).Should().Equal(blob);
            new FileInfo(Path.Combine(remote, "in", "link")).LinkTarget.Should().Be("deep/er/blob.bin");
            (await File.ReadAllBytesAsync(Path.Combine(local, "back", "deep", "er", "blob.bin"), ct)).Should().Equal(blob);
            Directory.Exists(Path.Combine(local, "back", "node_modules")).Should().BeFalse("node_modules is ignored");
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }

        SandboxClient client() => _agent.Client();
    }

    [Theory(Timeout = 180_000)]
    [InlineData(ArchiveCompression.Zstd)]
    [InlineData(ArchiveCompression.Gzip)]
    public async Task A_compressed_directory_tree_round_trips(ArchiveCompression compression)
    {
        var ct = TestContext.Current.CancellationToken;
        var remote = _agent.NewDirectory("transfer-" + compression);
        var local = Directory.CreateTempSubdirectory("sandboxd-ztree-").FullName;
        try
        {
            var source = Path.Combine(local, "src");
            Directory.CreateDirectory(Path.Combine(source, "a", "b"));
            var blob = new byte[2_000_000];
            Random.Shared.NextBytes(blob);
            await File.WriteAllBytesAsync(Path.Combine(source, "a", "b", "random.bin"), blob, ct);
            await File.WriteAllTextAsync(Path.Combine(source, "a", "text.txt"), string.Concat(Enumerable.Repeat("compressible line\n", 10_000)), ct);
            await File.WriteAllBytesAsync(Path.Combine(source, "empty"), [], ct);
            // SyncProgress, not Progress<T>: Progress<T> posts each report to the thread pool, where a busy machine runs them
            // out of order and an earlier, smaller total can land last (a CI run under stress-ng saw exactly that).
            var ups = new List<long>();
            var downs = new List<long>();

            await using var client = _agent.Client();
            var result = await client.Files.UploadDirectoryAsync(source, Path.Combine(remote, "in"), new SyncProgress(ups.Add), compression, ct);
            await client.Files.DownloadDirectoryAsync(Path.Combine(remote, "in"), Path.Combine(local, "back"), null, new SyncProgress(downs.Add), compression, ct);

            result.Files.Should().Be(3);
            foreach (var name in new[] { "a/b/random.bin", "a/text.txt", "empty" })
            {
                (await File.ReadAllBytesAsync(Path.Combine(remote, "in", name), ct)).Should().Equal(await File.ReadAllBytesAsync(Path.Combine(source, name), ct), name + " went in intact");
                (await File.ReadAllBytesAsync(Path.Combine(local, "back", name), ct)).Should().Equal(await File.ReadAllBytesAsync(Path.Combine(source, name), ct), name + " came back intact");
            }

            ups.Should().BeInAscendingOrder("the upload's progress is a running total").And.HaveCountGreaterThan(1);
            downs.Should().BeInAscendingOrder("the download's progress is a running total").And.HaveCountGreaterThan(1);
            ups[^1].Should().BeGreaterThan(blob.Length, "the tar's bytes before compression are counted");
            downs[^1].Should().BeGreaterThan(blob.Length, "the tar's bytes after decompression are counted");
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_conditional_upload_with_a_stale_etag_is_refused_with_412()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = _agent.NewDirectory("transfer-ifmatch");
        await using var client = _agent.Client();
        await client.Files.UploadAsync(Path.Combine(dir, "f"), new MemoryStream([1, 2, 3]), cancellationToken: ct);

        var act = () => client.Files.UploadAsync(Path.Combine(dir, "f"), new MemoryStream([4]), ifMatch: "\"stale\"", cancellationToken: ct);

        (await act.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.PreconditionFailed);
        (await File.ReadAllBytesAsync(Path.Combine(dir, "f"), ct)).Should().Equal(1, 2, 3);
    }

    [Fact(Timeout = 120_000)]
    public async Task The_process_list_shows_a_background_command_and_a_signal_ends_it()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var client = _agent.Client();
        var marker = "sleep 731" + Random.Shared.Next(100, 999);
        var terminal = await client.Terminals.CreateAsync(new Sandboxd.Protocol.CreateTerminalRequest(Pty: false), ct);
        try
        {
            await client.Terminals.ExecuteAsync(terminal.Id, new Sandboxd.Protocol.TerminalExecuteRequest(marker, Background: true), ct);
            Sandboxd.Protocol.ProcessEntry? found = null;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (found is null && DateTime.UtcNow < deadline)
            {
                found = (await client.Processes.ListAsync(ct)).FirstOrDefault(p => p.Cmdline.Count > 0 && p.Cmdline[^1] == marker.Split(' ')[1] && p.Cmdline[0].EndsWith("sleep", StringComparison.Ordinal));
                if (found is null)
                {
                    await Task.Delay(100, ct);
                }
            }

            found.Should().NotBeNull();
            found!.StartedByKind.Should().Be("command");

            var sent = await client.Processes.SignalAsync(found.Pid, "TERM", cancellationToken: ct);

            sent.Signal.Should().Be("SIGTERM");
            var gone = DateTime.UtcNow.AddSeconds(20);
            while ((await client.Processes.ListAsync(ct)).Any(p => p.Pid == found.Pid) && DateTime.UtcNow < gone)
            {
                await Task.Delay(50, ct);
            }

            (await client.Processes.ListAsync(ct)).Should().NotContain(p => p.Pid == found.Pid, "the signalled process ended");
        }
        finally
        {
            await client.Terminals.DeleteAsync(terminal.Id, ct);
        }
    }

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
