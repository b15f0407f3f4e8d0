using System.Runtime.CompilerServices;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Commands and code (<c>/run/command</c>, <c>/run/code</c>, <c>/execute</c>).</summary>
public sealed class RunClient
{
    private readonly SandboxClient _client;

    internal RunClient(SandboxClient client) => _client = client;

    /// <summary>Runs a shell command line (<c>/bin/sh -c</c>) and returns its output and exit code (a non-zero exit is not an error).</summary>
    public Task<CommandResult> CommandAsync(string command, CancellationToken cancellationToken = default) =>
        CommandAsync(new RunCommandRequest(command), cancellationToken);

    /// <summary><c>POST /run/command</c> as given (foreground unless <see cref="RunCommandRequest.Background"/>).</summary>
    public async Task<CommandResult> CommandAsync(RunCommandRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/run/command", request,
            ProtocolJsonContext.Default.RunCommandRequest, ProtocolJsonContext.Default.EnvelopeCommandResult, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>Starts a command in the background; wait for it with <see cref="WaitAsync"/>.</summary>
    public Task<CommandResult> StartAsync(string command, CancellationToken cancellationToken = default) =>
        StartAsync(new RunCommandRequest(command), cancellationToken);

    /// <summary>Starts a command in the background (<c>background:true</c>).</summary>
    public Task<CommandResult> StartAsync(RunCommandRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return CommandAsync(request with { Background = true, Stream = null }, cancellationToken);
    }

    /// <summary>Waits for a background command to finish (long poll; <paramref name="timeout"/> null = no agent-side limit).</summary>
    public Task<CommandInfo> WaitAsync(CommandResult started, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(started);
        if (started.CmdId is null || started.TerminalId is null)
        {
            throw new ArgumentException("The command has no cmd_id/terminal_id: only background and streamed commands can be waited for.", nameof(started));
        }

        return _client.Terminals.WaitCommandAsync(started.TerminalId, started.CmdId, timeout, cancellationToken);
    }

    /// <summary>Runs a command and streams its output as it is produced; the last item is <see cref="ExitedCommandEvent"/>.</summary>
    public IAsyncEnumerable<CommandEvent> StreamAsync(string command, CancellationToken cancellationToken = default) =>
        StreamAsync(new RunCommandRequest(command), cancellationToken);

    /// <summary>
    /// Runs a command with <c>stream:true</c>: registers it, subscribes to its channel from offset 0, then starts it
    /// (<c>command:start</c>), so no output can be missed. Output resumes across reconnects; evicted output appears as
    /// <see cref="OutputLostCommandEvent"/>. Leaving the enumeration early stops listening (the command keeps running).
    /// </summary>
    public async IAsyncEnumerable<CommandEvent> StreamAsync(RunCommandRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var live = _client.Live;
        var pending = await CommandAsync(request with { Stream = true, Background = null }, cancellationToken).ConfigureAwait(false);
        if (pending.CmdId is not { } cmdId)
        {
            throw new SandboxdException("The agent did not return a cmd_id for a streamed command; it may not support streaming.");
        }

        var subscription = new CommandStreamSubscription(pending.Channel ?? "command:" + cmdId, _client.Options.StreamBufferCapacity);
        await live.SubscribeAsync(subscription, cancellationToken).ConfigureAwait(false);
        try
        {
            await live.SendAsync(ClientFrames.CommandStart(cmdId), cancellationToken).ConfigureAwait(false);
            yield return new StartedCommandEvent(cmdId, pending.TerminalId);
            await foreach (var item in subscription.Items.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            live.Unsubscribe(subscription);
        }
    }

    /// <summary>Runs code (<c>POST /run/code</c>); the language is detected when null.</summary>
    public Task<RunCodeData> CodeAsync(string code, string? language = null, CancellationToken cancellationToken = default) =>
        CodeAsync(new RunCodeRequest(code, language), cancellationToken);

    /// <summary><c>POST /run/code</c> as given.</summary>
    public async Task<RunCodeData> CodeAsync(RunCodeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/run/code", request,
            ProtocolJsonContext.Default.RunCodeRequest, ProtocolJsonContext.Default.EnvelopeRunCodeData, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>The legacy <c>POST /execute</c> (same as <see cref="CommandAsync(RunCommandRequest, CancellationToken)"/>).</summary>
    public async Task<CommandResult> ExecuteAsync(RunCommandRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/execute", request,
            ProtocolJsonContext.Default.RunCommandRequest, ProtocolJsonContext.Default.EnvelopeCommandResult, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }
}
