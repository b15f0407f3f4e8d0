using System.Text;

namespace Sandboxd.Client.Tests;

/// <summary><c>sandboxd exec</c> and <c>sandboxd cp</c>, run as the real binary against the shared agent.</summary>
public sealed class CliTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    private string[] Connection => ["--url", _agent.BaseUrl.ToString(), "--token", _agent.Token];

    [Fact(Timeout = 180_000)]
    public async Task Exec_streams_stdout_and_stderr_separately_and_exits_with_the_remote_exit_code()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await SandboxdCli.RunAsync(["exec", .. Connection, "--", "sh", "-c", "echo out; echo err >&2; exit 9"], ct);

        result.ExitCode.Should().Be(9);
        result.StdoutText.Should().Be("out\n");
        result.Stderr.Should().Be("err\n");
    }

    [Fact(Timeout = 180_000)]
    public async Task Exec_quotes_every_argument_for_the_remote_shell()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await SandboxdCli.RunAsync(["exec", .. Connection, "--", "printf", "%s|", "a b", "it's", "$HOME", "", "ü*"], ct);

        result.Stderr.Should().BeEmpty();
        result.ExitCode.Should().Be(0);
        result.StdoutText.Should().Be("a b|it's|$HOME||ü*|");
    }

    [Fact(Timeout = 180_000)]
    public async Task Exec_takes_url_and_token_from_the_environment()
    {
        var ct = TestContext.Current.CancellationToken;
        var env = new Dictionary<string, string> { ["SANDBOXD_URL"] = _agent.BaseUrl.ToString(), ["SANDBOXD_TOKEN"] = _agent.Token };

        var result = await SandboxdCli.RunAsync(["exec", "echo", "from-env"], ct, env);

        result.ExitCode.Should().Be(0);
        result.StdoutText.Should().Be("from-env\n");
    }

    [Fact(Timeout = 180_000)]
    public async Task Exec_with_a_wrong_token_fails_with_255_and_says_why()
    {
        var ct = TestContext.Current.CancellationToken;

        var result = await SandboxdCli.RunAsync(["exec", "--url", _agent.BaseUrl.ToString(), "--token", "wrong", "--", "true"], ct);

        result.ExitCode.Should().Be(255);
        result.Stderr.Should().Contain("401");
    }

    [Fact(Timeout = 180_000)]
    public async Task Cp_copies_local_to_sandbox_and_back_including_into_directories_and_stdio()
    {
        var ct = TestContext.Current.CancellationToken;
        var remoteDir = _agent.NewDirectory("cp");
        var local = Directory.CreateTempSubdirectory("sandboxd-cp-").FullName;
        try
        {
            var source = Path.Combine(local, "notes.txt");
            await File.WriteAllTextAsync(source, "line one\nwörld ✓\n", ct);

            var up = await SandboxdCli.RunAsync(["cp", .. Connection, source, ":" + remoteDir + "/"], ct);
            var down = await SandboxdCli.RunAsync(["cp", .. Connection, ":" + remoteDir + "/notes.txt", Path.Combine(local, "back.txt")], ct);
            var intoDir = await SandboxdCli.RunAsync(["cp", .. Connection, ":" + remoteDir + "/notes.txt", local + "/sub/"], ct);
            var fromStdin = await SandboxdCli.RunAsync(["cp", .. Connection, "-", ":" + remoteDir + "/stdin.txt"], ct, stdin: Encoding.UTF8.GetBytes("piped\n"));
            var toStdout = await SandboxdCli.RunAsync(["cp", .. Connection, ":" + remoteDir + "/stdin.txt", "-"], ct);

            up.ExitCode.Should().Be(0, up.Stderr);
            (await File.ReadAllTextAsync(Path.Combine(remoteDir, "notes.txt"), ct)).Should().Be("line one\nwörld ✓\n");
            down.ExitCode.Should().Be(0, down.Stderr);
            (await File.ReadAllTextAsync(Path.Combine(local, "back.txt"), ct)).Should().Be("line one\nwörld ✓\n");
            intoDir.ExitCode.Should().NotBe(0, "a missing local directory is not created");
            fromStdin.ExitCode.Should().Be(0, fromStdin.Stderr);
            toStdout.StdoutText.Should().Be("piped\n");
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Cp_copies_binary_files_byte_for_byte_and_directories_both_ways_with_r()
    {
        var ct = TestContext.Current.CancellationToken;
        var remoteDir = _agent.NewDirectory("cp-bin");
        var local = Directory.CreateTempSubdirectory("sandboxd-cp-bin-").FullName;
        try
        {
            var bytes = new byte[24 * 1024 * 1024 + 7];
            Random.Shared.NextBytes(bytes);
            bytes[0] = 0xff; // never valid UTF-8
            bytes[1] = 0xfe;
            var source = Path.Combine(local, "image.bin");
            await File.WriteAllBytesAsync(source, bytes, ct);

            var up = await SandboxdCli.RunAsync(["cp", .. Connection, source, ":" + remoteDir + "/"], ct);
            var down = await SandboxdCli.RunAsync(["cp", .. Connection, ":" + remoteDir + "/image.bin", Path.Combine(local, "back.bin")], ct);

            up.ExitCode.Should().Be(0, up.Stderr);
            down.ExitCode.Should().Be(0, down.Stderr);
            (await File.ReadAllBytesAsync(Path.Combine(remoteDir, "image.bin"), ct)).AsSpan().SequenceEqual(bytes).Should().BeTrue();
            (await File.ReadAllBytesAsync(Path.Combine(local, "back.bin"), ct)).AsSpan().SequenceEqual(bytes).Should().BeTrue();

            var tree = Path.Combine(local, "tree");
            Directory.CreateDirectory(Path.Combine(tree, "a", "b"));
            await File.WriteAllBytesAsync(Path.Combine(tree, "a", "b", "bin.dat"), bytes.AsMemory(0, 100_000).ToArray(), ct);
            await File.WriteAllTextAsync(Path.Combine(tree, "top.txt"), "top", ct);

            var noR = await SandboxdCli.RunAsync(["cp", .. Connection, tree, ":" + remoteDir + "/"], ct);
            var treeUp = await SandboxdCli.RunAsync(["cp", .. Connection, "-r", tree, ":" + remoteDir + "/"], ct);
            var treeDown = await SandboxdCli.RunAsync(["cp", .. Connection, "-r", ":" + remoteDir + "/tree", Path.Combine(local, "tree-back")], ct);

            noR.ExitCode.Should().Be(1);
            noR.Stderr.Should().Contain("-r");
            treeUp.ExitCode.Should().Be(0, treeUp.Stderr);
            treeDown.ExitCode.Should().Be(0, treeDown.Stderr);
            (await File.ReadAllBytesAsync(Path.Combine(remoteDir, "tree", "a", "b", "bin.dat"), ct)).Should().Equal(bytes.AsMemory(0, 100_000).ToArray());
            (await File.ReadAllTextAsync(Path.Combine(local, "tree-back", "top.txt"), ct)).Should().Be("top");
            (await File.ReadAllBytesAsync(Path.Combine(local, "tree-back", "a", "b", "bin.dat"), ct)).Should().Equal(bytes.AsMemory(0, 100_000).ToArray());
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    /// <summary>
    /// Issue 15's "done when": a 1 GiB binary file goes into a sandbox and back byte-identical through the C# client
    /// (streams, never a whole-file buffer) and through <c>sandboxd cp</c>, while the agent's RSS stays flat.
    /// </summary>
    [Fact(Timeout = 600_000)]
    public async Task A_1_GiB_binary_file_round_trips_through_the_client_and_sandboxd_cp_with_flat_agent_memory()
    {
        var ct = TestContext.Current.CancellationToken;
        const long Size = 1024L * 1024 * 1024 + 5;
        // An agent of its own: the shared one serves other tests at the same time, and their work would count as growth.
        await using var agent = await Agent.StartAsync(cancellationToken: ct);
        string[] connection = ["--url", agent.BaseUrl.ToString(), "--token", agent.Token];
        var remoteDir = agent.NewDirectory("gib");
        var local = Directory.CreateTempSubdirectory("sandboxd-gib-").FullName;
        using var sampling = new CancellationTokenSource();
        var rssBefore = Rss(agent.Pid);
        var rssPeak = rssBefore;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                rssPeak = Math.Max(rssPeak, Rss(agent.Pid));
                await Task.Delay(25, CancellationToken.None);
            }
        }, ct);
        try
        {
            var source = Path.Combine(local, "gib.bin");
            var expected = await WriteRandomAsync(source, Size, ct);
            await using var client = agent.Client();

            await using (var upload = File.OpenRead(source))
            {
                (await client.Files.UploadAsync(Path.Combine(remoteDir, "via-client.bin"), upload, cancellationToken: ct)).Size.Should().Be(Size);
            }

            await using (var download = await client.Files.DownloadAsync(Path.Combine(remoteDir, "via-client.bin"), ct))
            {
                (await HashAsync(download, ct)).Should().Equal(expected, "the client's download is the uploaded bytes");
            }

            var up = await SandboxdCli.RunAsync(["cp", .. connection, source, ":" + remoteDir + "/via-cp.bin"], ct);
            up.ExitCode.Should().Be(0, up.Stderr);
            var back = Path.Combine(local, "back.bin");
            var down = await SandboxdCli.RunAsync(["cp", .. connection, ":" + remoteDir + "/via-cp.bin", back], ct);
            down.ExitCode.Should().Be(0, down.Stderr);
            await using (var copied = File.OpenRead(back))
            {
                (await HashAsync(copied, ct)).Should().Equal(expected, "sandboxd cp brings back the same bytes");
            }

            await using (var inside = File.OpenRead(Path.Combine(remoteDir, "via-cp.bin")))
            {
                (await HashAsync(inside, ct)).Should().Equal(expected, "the file in the sandbox is the local one");
            }

            await sampling.CancelAsync();
            await sampler;
            (rssPeak - rssBefore).Should().BeLessThan(32L * 1024 * 1024, $"agent RSS {rssBefore} → peak {rssPeak} bytes while 4 × 1 GiB streamed");
        }
        finally
        {
            await sampling.CancelAsync();
            Directory.Delete(local, recursive: true);
            Directory.Delete(remoteDir, recursive: true);
        }
    }

    private static long Rss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Writes <paramref name="size"/> seeded random bytes (the first two never valid UTF-8); returns their SHA-256.</summary>
    private static async Task<byte[]> WriteRandomAsync(string path, long size, CancellationToken ct)
    {
        var random = new Random(15);
        var buffer = new byte[4 * 1024 * 1024];
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        await using var file = File.Create(path);
        for (long left = size, first = 1; left > 0; first = 0)
        {
            var n = (int)Math.Min(buffer.Length, left);
            random.NextBytes(buffer.AsSpan(0, n));
            if (first == 1)
            {
                buffer[0] = 0xff;
                buffer[1] = 0xfe;
            }

            sha.AppendData(buffer, 0, n);
            await file.WriteAsync(buffer.AsMemory(0, n), ct);
            left -= n;
        }

        return sha.GetHashAndReset();
    }

    private static async Task<byte[]> HashAsync(Stream stream, CancellationToken ct)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1024 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            sha.AppendData(buffer, 0, read);
        }

        return sha.GetHashAndReset();
    }
}
