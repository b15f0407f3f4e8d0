namespace Sandboxd.Cli;

/// <summary>The client verbs of the sandboxd binary (exec, shell, cp), built on the Sandboxd.Client library.</summary>
internal static class ClientCommands
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine($"sandboxd {args[0]}: not available in this build yet");
        return Task.FromResult(2);
    }
}
