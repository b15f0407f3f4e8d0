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
