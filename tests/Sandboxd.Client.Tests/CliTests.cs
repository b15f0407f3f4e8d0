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
}
