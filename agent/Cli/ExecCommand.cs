using System.Runtime.InteropServices;
using System.Text;
using Sandboxd.Client;
using Sandboxd.Native;
using Sandboxd.Protocol;

namespace Sandboxd.Cli;

/// <summary><c>sandboxd exec -- CMD ARGS</c>: streams a remote command's output and exits with its exit code.</summary>
internal static class ExecCommand
{
    /// <summary>Exit code for failures of sandboxd itself (not of the remote command), as ssh does.</summary>
    public const int ClientFailure = 255;

    public static async Task<int> RunAsync(ClientOptions options, string[] argv)
    {
        if (argv.Length == 0)
        {
            Console.Error.WriteLine("sandboxd exec: no command given (sandboxd exec -- CMD ARGS)");
            return 2;
        }

        using var interrupted = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var stdout = LibC.OpenStandardOutput();
        using var stderr = LibC.OpenStandardError();
        await using var client = new SandboxClient(options.Url, options.Token);
        var request = new RunCommandRequest(ShellQuoting.Join(argv), Cwd: options.Cwd, Env: options.Env.Count > 0 ? options.Env : null);
        try
        {
            await foreach (var item in client.Run.StreamAsync(request, interrupted.Token))
            {
                switch (item)
                {
                    case StandardOutputCommandEvent o:
                        await WriteAsync(stdout, o.Text, interrupted.Token);
                        break;
                    case StandardErrorCommandEvent e:
                        await WriteAsync(stderr, e.Text, interrupted.Token);
                        break;
                    case OutputLostCommandEvent lost:
                        await WriteAsync(stderr, $"\nsandboxd exec: {lost.LostBytes} bytes of {lost.Stream} were lost (evicted by the agent before they could be read)\n",
                            interrupted.Token);
                        break;
                    case ExitedCommandEvent exited:
                        return exited.ExitCode is >= 0 and <= 255 ? exited.ExitCode : ClientFailure;
                    default:
                        break;
                }
            }

            Console.Error.WriteLine("sandboxd exec: the command's stream ended without an exit code");
            return ClientFailure;
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            // The protocol has no per-command kill: the remote command keeps running, as after a dropped ssh session.
            Console.Error.WriteLine("sandboxd exec: interrupted (the remote command may still be running)");
            return 130;
        }
        catch (Exception e) when (e is SandboxdException or HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"sandboxd exec: {e.Message}");
            return ClientFailure;
        }

        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true; // exit through the normal path, with a message and code 130
            try
            {
                interrupted.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the signal came as the command was returning: it ends anyway
            }
        }
    }

    private static async Task WriteAsync(Stream stream, string text, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }
}
