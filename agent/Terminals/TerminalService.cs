using Sandboxd.Core;
using Sandboxd.Errors;
using Sandboxd.Native;
using Sandboxd.Processes;
using Sandboxd.Protocol;

namespace Sandboxd.Terminals;

/// <summary>Creates, describes and destroys terminals: exec terminals hold command records, PTY terminals a shell.</summary>
internal sealed class TerminalService(
    Spawner spawner, ChildEnvironment environment, CommandExecutor executor, PublicUrls urls, TerminalEvents events, TimeProvider time) : ISandboxScoped
{
    public async Task CloseAsync(SandboxContext sandbox)
    {
        foreach (var id in CommandExecutor.Registry(sandbox).Terminals.Keys)
        {
            await DestroyAsync(sandbox, id).ConfigureAwait(false);
        }
    }

    /// <summary>PTY scrollback kept per terminal (replayed to a client that subscribes again).</summary>
    public const int ScrollbackBytes = 256 * 1024;

    /// <exception cref="SandboxdException">Invalid: a field is wrong, the shell or cwd does not exist, or the PTY shell cannot start.</exception>
    public Terminal Create(SandboxContext context, CreateTerminalRequest request)
    {
        var encoding = request.Encoding ?? "raw";
        if (encoding is not ("raw" or "base64"))
        {
            throw SandboxdException.Invalid($"Field 'encoding' must be \"raw\" or \"base64\", not \"{encoding}\".");
        }

        var limits = ResourceLimits.TryCreate(request.MemoryMb, request.PidsMax, CgroupHost.Current, out var limitError);
        if (limitError is not null)
        {
            throw SandboxdException.Invalid(limitError);
        }

        var registry = CommandExecutor.Registry(context);
        if (request.Pty != true)
        {
            var exec = new Terminal(pty: false, shell: request.Shell, encoding, time: time) { Limits = limits };
            registry.Terminals[exec.Id] = exec;
            return exec;
        }

        var shell = string.IsNullOrEmpty(request.Shell) ? (File.Exists("/bin/bash") ? "/bin/bash" : "/bin/sh") : request.Shell;
        if (!ShellExists(shell))
        {
            throw SandboxdException.Invalid($"Shell '{shell}' was not found in this sandbox.");
        }

        var cols = Math.Clamp(request.Cols ?? 80, 1, 1000);
        var rows = Math.Clamp(request.Rows ?? 24, 1, 1000);
        var cwd = context.Root;
        if (!string.IsNullOrEmpty(request.Cwd))
        {
            if (request.Cwd.Contains('\0', StringComparison.Ordinal))
            {
                throw SandboxdException.Invalid("cwd must not contain NUL characters.");
            }

            cwd = context.Resolve(request.Cwd);
            if (!Directory.Exists(cwd))
            {
                throw SandboxdException.Invalid($"cwd '{request.Cwd}' does not exist.");
            }
        }

        var terminal = new Terminal(pty: true, shell, encoding, time: time) { Limits = limits };
        var output = new OutputLog(ScrollbackBytes);
        var env = environment.Build(context.Environment, request.Env);
        env["TERM"] = "xterm-256color";
        env.TryAdd("COLORTERM", "truecolor");
        ChildProcess process;
        try
        {
            process = spawner.Spawn(new ProcessSpec([shell, "-i"], cwd, env, StdinKind.Null, (cols, rows), Owner: new ProcessOwner(context.Subdomain, "terminal", terminal.Id), Limits: limits), output, null);
        }
        catch (SpawnException e)
        {
            throw SandboxdException.Invalid($"Could not start the PTY shell: {e.Message}");
        }
        catch (Exception e) when (limits is not null && e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw SandboxdException.Invalid($"Could not apply the terminal's limits: {e.Message}");
        }

        terminal.AttachPty(process, output, cols, rows);
        registry.Terminals[terminal.Id] = terminal;
        events.Created(context, terminal);
        terminal.ExitWatcher = WatchExitAsync(context, terminal, process);
        return terminal;
    }

    private static bool ShellExists(string shell) =>
        shell.Contains('/', StringComparison.Ordinal)
            ? File.Exists(shell)
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, shell)));

    private async Task WatchExitAsync(SandboxContext context, Terminal terminal, ChildProcess process)
    {
        var exit = await process.Exited.ConfigureAwait(false);
        terminal.MarkExited(exit.ExitCode);
        terminal.Output!.Complete();
        // The shell ended by itself (or was destroyed): the terminal stays listed as stopped until deleted.
        events.Destroyed(context, terminal);
    }

    public async Task<bool> DestroyAsync(SandboxContext context, string id)
    {
        var registry = CommandExecutor.Registry(context);
        if (!registry.Terminals.TryRemove(id, out var terminal))
        {
            return false;
        }

        if (terminal.Process is { } process)
        {
            // A PTY hangs up first (what closing a terminal window does), then SIGKILL after 2 s.
            await process.StopAsync(TimeSpan.FromSeconds(2), process.StopSignal, CancellationToken.None).ConfigureAwait(false);
        }

        await Task.WhenAll(terminal.Commands.Where(c => !c.Completed.IsCompleted).Select(executor.StopAsync)).ConfigureAwait(false);
        if (terminal.ExitWatcher is { } watcher)
        {
            await watcher.ConfigureAwait(false); // exit code recorded, output completed, terminal:destroyed queued
        }

        if (terminal.IsPty)
        {
            // The client clears its event handlers as soon as the DELETE answers: terminal:destroyed must be written to
            // every subscribed socket before that (bounded, so a stalled socket cannot hold the DELETE).
            await events.DestroyedDeliveredAsync(context, terminal, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }

        events.Removed(context, terminal);
        foreach (var command in terminal.Commands)
        {
            events.CommandForgotten(context, command);
        }

        return true;
    }

    public TerminalInfo ToInfo(HttpContext http, Terminal terminal)
    {
        var (cols, rows) = terminal.Size;
        return new TerminalInfo(
            terminal.Id,
            terminal.IsPty,
            terminal.Status,
            terminal.CreatedAt,
            terminal.IsPty ? terminal.Channel : null,
            terminal.IsPty ? urls.WebSocketUrl(http) : null,
            terminal.Encoding,
            terminal.Shell,
            terminal.Process?.Pid,
            terminal.ExitCode,
            terminal.IsPty ? cols : null,
            terminal.IsPty ? rows : null);
    }
}
