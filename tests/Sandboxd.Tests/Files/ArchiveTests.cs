using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

public sealed class ArchiveTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Tar(Action<TarWriter> write)
    {
        using var memory = new MemoryStream();
        using (var writer = new TarWriter(memory, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        return memory.ToArray();
    }

    private static void File(TarWriter writer, string name, string content)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };
        writer.WriteEntry(entry);
    }

    private static void Link(TarWriter writer, TarEntryType type, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(type, name) { LinkName = target });

    private Task<HttpResponseMessage> ExtractAsync(string dir, byte[] body) =>
        Agent.Client.Http.PostAsync("/files/archive?path=" + Uri.EscapeDataString(dir), new ByteArrayContent(body), Ct);

    [Fact(Timeout = 60_000)]
    public async Task A_gzip_tree_extracts_and_comes_back_as_a_tar_without_ignored_names()
    {
        var dir = Path.Combine(Agent.Root, "archive-" + Guid.NewGuid().ToString("N")[..6]);
        var tar = Tar(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "src/"));
            File(w, "src/main.c", "int main;");
            File(w, "node_modules/x/index.js", "ignored");
            Link(w, TarEntryType.SymbolicLink, "main-link", "src/main.c");
            Link(w, TarEntryType.HardLink, "main-hard", "src/main.c");
        });
        using var gz = new MemoryStream();
        using (var gzip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }

        using var extract = await ExtractAsync(dir, gz.ToArray());
        var text = await extract.Content.ReadAsStringAsync(Ct);
        extract.StatusCode.Should().Be(HttpStatusCode.OK, text);
        (await System.IO.File.ReadAllTextAsync(Path.Combine(dir, "src", "main.c"), Ct)).Should().Be("int main;");
        (await System.IO.File.ReadAllTextAsync(Path.Combine(dir, "main-hard"), Ct)).Should().Be("int main;");
        new FileInfo(Path.Combine(dir, "main-link")).LinkTarget.Should().Be("src/main.c");

        using var back = await Agent.Client.Http.GetAsync("/files/archive?path=" + Uri.EscapeDataString(dir) + "&ignore=node_modules&gzip=true", Ct);
        back.StatusCode.Should().Be(HttpStatusCode.OK);
        await using var unzipped = new GZipStream(await back.Content.ReadAsStreamAsync(Ct), CompressionMode.Decompress);
        using var reader = new TarReader(unzipped);
        var names = new List<string>();
        while (await reader.GetNextEntryAsync(cancellationToken: Ct) is { } entry)
        {
            names.Add(entry.Name);
        }

        names.Should().Contain(["src/", "src/main.c", "main-link", "main-hard"]);
        names.Should().NotContain(n => n.Contains("node_modules"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_zstd_tree_extracts_and_comes_back_as_a_zstd_tar()
    {
        var dir = Path.Combine(Agent.Root, "zstd-" + Guid.NewGuid().ToString("N")[..6]);
        var random = new byte[1_500_000];
        Random.Shared.NextBytes(random);
        var tar = Tar(w =>
        {
            File(w, "src/main.c", "int main;");
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/random.bin") { DataStream = new MemoryStream(random) });
        });
        using var compressed = new MemoryStream();
        using (var zstd = new ZstdSharp.CompressionStream(compressed, 3, leaveOpen: true))
        {
            zstd.Write(tar);
        }

        compressed.ToArray()[..4].Should().Equal([0x28, 0xB5, 0x2F, 0xFD]);
        using var extract = await ExtractAsync(dir, compressed.ToArray());
        var text = await extract.Content.ReadAsStringAsync(Ct);
        extract.StatusCode.Should().Be(HttpStatusCode.OK, text);
        (await System.IO.File.ReadAllTextAsync(Path.Combine(dir, "src", "main.c"), Ct)).Should().Be("int main;");
        (await System.IO.File.ReadAllBytesAsync(Path.Combine(dir, "bin", "random.bin"), Ct)).Should().Equal(random);
        Directory.GetFiles(dir, "*.tmp", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Should().BeEmpty();

        using var back = await Agent.Client.Http.GetAsync("/files/archive?path=" + Uri.EscapeDataString(dir) + "&compress=zstd", Ct);
        back.StatusCode.Should().Be(HttpStatusCode.OK);
        back.Content.Headers.ContentType!.MediaType.Should().Be("application/zstd");
        var body = await back.Content.ReadAsByteArrayAsync(Ct);
        body[..4].Should().Equal([0x28, 0xB5, 0x2F, 0xFD]);
        await using var unzstd = new ZstdSharp.DecompressionStream(new MemoryStream(body));
        using var reader = new TarReader(unzstd);
        var files = new Dictionary<string, byte[]>();
        while (await reader.GetNextEntryAsync(copyData: true, Ct) is { } entry)
        {
            if (entry.DataStream is { } data)
            {
                using var copy = new MemoryStream();
                await data.CopyToAsync(copy, Ct);
                files[entry.Name] = copy.ToArray();
            }
        }

        files["bin/random.bin"].Should().Equal(random);
        files["src/main.c"].Should().Equal("int main;"u8.ToArray());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_corrupt_zstd_body_is_refused_with_400_and_nothing_is_written()
    {
        var dir = Path.Combine(Agent.Root, "zstd-bad-" + Guid.NewGuid().ToString("N")[..6]);
        var tar = Tar(w => File(w, "a.txt", new string('a', 100_000)));
        using var compressed = new MemoryStream();
        using (var zstd = new ZstdSharp.CompressionStream(compressed, 3, leaveOpen: true))
        {
            zstd.Write(tar);
        }

        var corrupt = compressed.ToArray();
        for (var i = 8; i < corrupt.Length; i++)
        {
            corrupt[i] ^= 0x5A; // the magic and frame header survive, the blocks do not
        }

        using var extract = await ExtractAsync(dir, corrupt);

        var text = await extract.Content.ReadAsStringAsync(Ct);
        extract.StatusCode.Should().Be(HttpStatusCode.BadRequest, text);
        text.Should().Contain("zstd");
        (Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }) : [])
            .Should().BeEmpty("nothing of a corrupt archive is written");
        (await Agent.Client.Http.GetAsync("/health", Ct)).StatusCode.Should().Be(HttpStatusCode.OK, "the agent keeps serving");
    }

    [Fact(Timeout = 60_000)]
    public async Task An_unknown_compression_is_refused_with_400()
    {
        using var response = await Agent.Client.Http.GetAsync("/files/archive?path=" + Uri.EscapeDataString(Agent.Root) + "&compress=lz4", Ct);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    public static TheoryData<string> Slips() => ["dotdot", "absolute", "symlink-absolute", "symlink-relative", "through-inner-symlink", "hardlink-out"];

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Slips))]
    public async Task An_entry_that_escapes_the_directory_is_refused_with_400_and_nothing_lands_outside(string kind)
    {
        var parent = Path.Combine(Agent.Root, "slip-" + kind + "-" + Guid.NewGuid().ToString("N")[..6]);
        var dir = Path.Combine(parent, "into");
        var outside = Path.Combine(parent, "outside");
        Directory.CreateDirectory(outside);
        var tar = Tar(w =>
        {
            File(w, "fine.txt", "ok");
            switch (kind)
            {
                case "dotdot":
                    File(w, "../outside/pwned.txt", "x");
                    break;
                case "absolute":
                    File(w, outside + "/pwned.txt", "x");
                    break;
                case "symlink-absolute":
                    Link(w, TarEntryType.SymbolicLink, "out", outside);
                    File(w, "out/pwned.txt", "x");
                    break;
                case "symlink-relative":
                    Link(w, TarEntryType.SymbolicLink, "out", "../outside");
                    File(w, "out/pwned.txt", "x");
                    break;
                case "through-inner-symlink":
                    w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "real/"));
                    Link(w, TarEntryType.SymbolicLink, "alias", "real");
                    File(w, "alias/pwned.txt", "x");
                    break;
                case "hardlink-out":
                    Link(w, TarEntryType.HardLink, "stolen", "../outside/secret.txt");
                    break;
            }
        });
        await System.IO.File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "secret", Ct);

        using var response = await ExtractAsync(dir, tar);

        var text = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, text);
        text.Should().Contain("Refused");
        Directory.GetFileSystemEntries(outside).Select(f => Path.GetFileName(f)).Should().Equal(new[] { "secret.txt" }, "nothing is written outside the directory");
        System.IO.File.Exists(Path.Combine(dir, "real", "pwned.txt")).Should().BeFalse();
        System.IO.File.Exists(Path.Combine(dir, "stolen")).Should().BeFalse();
    }
}
