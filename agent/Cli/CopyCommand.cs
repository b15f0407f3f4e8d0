using Sandboxd.Client;
using Sandboxd.Native;

namespace Sandboxd.Cli;

/// <summary>
/// <c>sandboxd cp [-r] SRC DST</c>: files (byte for byte, any size) and, with <c>-r</c>, directories (as a tar) between
/// this machine and a sandbox (sandbox paths start with ':'). A progress line is shown on a terminal for transfers
/// that last over a second.
/// </summary>
internal static class CopyCommand
{
    public static async Task<int> RunAsync(ClientOptions options, string[] args)
    {
        var recursive = args.Any(a => a is "-r" or "-R" or "--recursive");
        var paths = args.Where(a => a is not ("-r" or "-R" or "--recursive")).ToArray();
        if (paths.Length != 2)
        {
            Console.Error.WriteLine("sandboxd cp: expected [-r] SRC DST (prefix sandbox paths with ':', e.g. sandboxd cp ./a.bin :/tmp/a.bin)");
            return 2;
        }

        var (source, destination) = (paths[0], paths[1]);
        if (IsRemote(source) == IsRemote(destination) && source != "-" && destination != "-")
        {
            Console.Error.WriteLine("sandboxd cp: exactly one of SRC and DST must be a sandbox path (starting with ':')");
            return 2;
        }

        await using var client = new SandboxClient(options.Url, options.Token);
        using var progress = new ProgressLine();
        try
        {
            if (IsRemote(source))
            {
                var path = source[1..];
                var name = Path.GetFileName(path.TrimEnd('/'));
                if (await IsRemoteDirectoryAsync(client, path))
                {
                    if (!recursive)
                    {
                        Console.Error.WriteLine($"sandboxd cp: {path} is a directory (use -r)");
                        return 1;
                    }

                    var target = Directory.Exists(destination) ? Path.Combine(destination, name) : destination;
                    await client.Files.DownloadDirectoryAsync(path, target, progress: progress);
                    return 0;
                }

                if (destination == "-")
                {
                    await using var stdout = LibC.OpenStandardOutput();
                    await client.Files.DownloadToAsync(path, stdout);
                    return 0;
                }

                var file = Directory.Exists(destination) || destination.EndsWith('/') ? Path.Combine(destination, name) : destination;
                var temp = file + ".sandboxd-cp.tmp";
                try
                {
                    await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
                    {
                        await client.Files.DownloadToAsync(path, output, progress);
                    }

                    File.Move(temp, file, overwrite: true);
                }
                finally
                {
                    File.Delete(temp);
                }

                return 0;
            }

            var remote = destination[1..];
            if (Directory.Exists(source))
            {
                if (!recursive)
                {
                    Console.Error.WriteLine($"sandboxd cp: {source} is a directory (use -r)");
                    return 1;
                }

                var target = remote.Length == 0 || remote.EndsWith('/') || await IsRemoteDirectoryAsync(client, remote)
                    ? remote.TrimEnd('/') + "/" + Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source)))
                    : remote;
                await client.Files.UploadDirectoryAsync(source, target, progress);
                return 0;
            }

            var sourceName = source == "-" ? "stdin" : Path.GetFileName(source);
            if (remote.Length == 0 || remote.EndsWith('/') || await IsRemoteDirectoryAsync(client, remote))
            {
                remote = remote.TrimEnd('/') + "/" + sourceName;
            }

            await using var input = source == "-" ? LibC.OpenStandardInput() : new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            await client.Files.UploadAsync(remote, input, progress);
            return 0;
        }
        catch (Exception e) when (e is SandboxdException or HttpRequestException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            progress.Clear();
            Console.Error.WriteLine($"sandboxd cp: {e.Message}");
            return 1;
        }
    }

    private static bool IsRemote(string path) => path.StartsWith(':');

    private static async Task<bool> IsRemoteDirectoryAsync(SandboxClient client, string path)
    {
        try
        {
            return (await client.Files.GetInfoAsync(path.Length == 0 ? "/" : path)).IsDir;
        }
        catch (SandboxdException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>"12.3 MiB  45.6 MiB/s" on stderr, redrawn at most 5 times a second, only on a terminal and after the first second.</summary>
    private sealed class ProgressLine : IProgress<long>, IDisposable
    {
        private readonly long _started = TimeProvider.System.GetTimestamp();
        private readonly bool _enabled = !Console.IsErrorRedirected;
        private long _lastDraw;
        private bool _drawn;

        public void Report(long value)
        {
            var elapsed = TimeProvider.System.GetElapsedTime(_started);
            var now = (long)elapsed.TotalMilliseconds;
            if (!_enabled || now < 1000 || now - _lastDraw < 200)
            {
                return;
            }

            _lastDraw = now;
            _drawn = true;
            var rate = value / Math.Max(elapsed.TotalSeconds, 0.001);
            Console.Error.Write($"\r{value / 1048576.0,10:0.0} MiB  {rate / 1048576.0,8:0.0} MiB/s ");
        }

        public void Clear()
        {
            if (_drawn)
            {
                Console.Error.Write("\r\u001b[K");
                _drawn = false;
            }
        }

        public void Dispose() => Clear();
    }
}
