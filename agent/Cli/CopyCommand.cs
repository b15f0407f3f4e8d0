using System.Text;
using Sandboxd.Client;
using Sandboxd.Native;

namespace Sandboxd.Cli;

/// <summary><c>sandboxd cp SRC DST</c>: one file between this machine and a sandbox (sandbox paths start with ':').</summary>
internal static class CopyCommand
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static async Task<int> RunAsync(ClientOptions options, string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("sandboxd cp: expected SRC and DST (prefix sandbox paths with ':', e.g. sandboxd cp ./a.txt :/tmp/a.txt)");
            return 2;
        }

        var (source, destination) = (args[0], args[1]);
        await using var client = new SandboxClient(options.Url, options.Token);
        try
        {
            string text;
            string sourceName;
            if (IsRemote(source))
            {
                var path = source[1..];
                text = await client.Files.ReadTextAsync(path);
                sourceName = Path.GetFileName(path.TrimEnd('/'));
            }
            else
            {
                var bytes = source == "-" ? await ReadStdinAsync() : await File.ReadAllBytesAsync(source);
                try
                {
                    text = StrictUtf8.GetString(bytes);
                }
                catch (DecoderFallbackException)
                {
                    Console.Error.WriteLine($"sandboxd cp: {source} is not UTF-8 text; the protocol carries file content as text, so it would be corrupted");
                    return 1;
                }

                sourceName = Path.GetFileName(source);
            }

            if (IsRemote(destination))
            {
                var path = destination[1..];
                if (path.Length == 0 || path.EndsWith('/') || await IsRemoteDirectoryAsync(client, path))
                {
                    path = path.TrimEnd('/') + "/" + sourceName;
                }

                await client.Files.WriteTextAsync(path, text);
            }
            else if (destination == "-")
            {
                await using var stdout = LibC.OpenStandardOutput();
                await stdout.WriteAsync(Encoding.UTF8.GetBytes(text));
            }
            else
            {
                var path = Directory.Exists(destination) || destination.EndsWith('/') ? Path.Combine(destination, sourceName) : destination;
                await File.WriteAllBytesAsync(path, Encoding.UTF8.GetBytes(text));
            }

            return 0;
        }
        catch (Exception e) when (e is SandboxdException or HttpRequestException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"sandboxd cp: {e.Message}");
            return 1;
        }
    }

    private static bool IsRemote(string path) => path.StartsWith(':');

    private static async Task<bool> IsRemoteDirectoryAsync(SandboxClient client, string path)
    {
        try
        {
            return (await client.Files.GetInfoAsync(path)).IsDir;
        }
        catch (SandboxdException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task<byte[]> ReadStdinAsync()
    {
        await using var stdin = LibC.OpenStandardInput();
        using var buffer = new MemoryStream();
        await stdin.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
