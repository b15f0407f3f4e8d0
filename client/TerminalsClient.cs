using System.Globalization;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Terminals (<c>/terminals</c>): exec-mode terminals that run commands, and interactive PTYs.</summary>
public sealed class TerminalsClient
{
    private readonly SandboxClient _client;

    internal TerminalsClient(SandboxClient client) => _client = client;

    /// <summary>Creates an exec-mode terminal (no process; run commands in it with <see cref="ExecuteAsync(string, string, bool?, CancellationToken)"/>).</summary>
    public Task<TerminalInfo> CreateAsync(CancellationToken cancellationToken = default) =>
        CreateAsync(new CreateTerminalRequest(Pty: false), cancellationToken);

    /// <summary><c>POST /terminals</c> as given (a PTY created this way is not attached: use <see cref="OpenPtyAsync"/>).</summary>
    public async Task<TerminalInfo> CreateAsync(CreateTerminalRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, "/terminals", request with { Pty = request.Pty ?? false },
            ProtocolJsonContext.Default.CreateTerminalRequest, ProtocolJsonContext.Default.EnvelopeTerminalInfo, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>
    /// Creates a PTY terminal (size, shell, cwd and env from <paramref name="request"/>; <c>pty</c> and a byte-exact
    /// <c>base64</c> output encoding are forced) and attaches to it from its first byte.
    /// </summary>
    public async Task<PtyTerminal> OpenPtyAsync(CreateTerminalRequest? request = null, CancellationToken cancellationToken = default)
    {
        var live = _client.Live;
        var info = await CreateAsync((request ?? new CreateTerminalRequest()) with { Pty = true, Encoding = "base64" }, cancellationToken)
            .ConfigureAwait(false);
        return await AttachAsync(live, info, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Attaches to an existing PTY terminal: from byte <paramref name="offset"/> of its output (a part of it that is no
    /// longer kept is reported by <see cref="OutputLostException"/>), or, when null, from the oldest byte the agent still
    /// keeps (its scrollback).
    /// </summary>
    public async Task<PtyTerminal> AttachPtyAsync(string id, long? offset = null, CancellationToken cancellationToken = default)
    {
        var live = _client.Live;
        var info = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (!info.Pty)
        {
            throw new ArgumentException($"Terminal {id} is an exec-mode terminal, not a PTY.", nameof(id));
        }

        return await AttachAsync(live, info, offset, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PtyTerminal> AttachAsync(LiveSocket live, TerminalInfo info, long? offset, CancellationToken cancellationToken)
    {
        var subscription = new PtySubscription(
            info.Channel ?? "terminal:" + info.Id, _client.Options.StreamBufferCapacity, offset ?? 0, acceptInitialGap: offset is null);
        await live.SubscribeAsync(subscription, cancellationToken).ConfigureAwait(false);
        return new PtyTerminal(_client, info, subscription);
    }

    /// <summary>Every terminal of the sandbox (PTY and exec, including the implicit one of background commands).</summary>
    public async Task<IReadOnlyList<TerminalInfo>> ListAsync(CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, "/terminals", ProtocolJsonContext.Default.EnvelopeTerminalList, cancellationToken)
            .ConfigureAwait(false)).Data.Terminals;

    /// <summary>One terminal.</summary>
    public async Task<TerminalInfo> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, Path(id), ProtocolJsonContext.Default.EnvelopeTerminalInfo, cancellationToken)
            .ConfigureAwait(false)).Data;

    /// <summary>Deletes a terminal (a PTY's shell gets SIGHUP; an exec terminal's running commands are stopped).</summary>
    public Task DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        _client.Transport.SendAsync(HttpMethod.Delete, Path(id), cancellationToken);

    /// <summary>Runs a command in an exec-mode terminal (foreground unless <paramref name="background"/>).</summary>
    public Task<CommandResult> ExecuteAsync(string terminalId, string command, bool? background = null, CancellationToken cancellationToken = default) =>
        ExecuteAsync(terminalId, new TerminalExecuteRequest(command, background), cancellationToken);

    /// <summary><c>POST /terminals/{id}/execute</c> as given.</summary>
    public async Task<CommandResult> ExecuteAsync(string terminalId, TerminalExecuteRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, Path(terminalId) + "/execute", request,
            ProtocolJsonContext.Default.TerminalExecuteRequest, ProtocolJsonContext.Default.EnvelopeCommandResult, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }

    /// <summary>The commands of an exec-mode terminal (oldest first, without output).</summary>
    public async Task<CommandList> ListCommandsAsync(string terminalId, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, Path(terminalId) + "/commands", ProtocolJsonContext.Default.EnvelopeCommandList,
            cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>One command, with the output captured so far.</summary>
    public async Task<CommandInfo> GetCommandAsync(string terminalId, string cmdId, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, CommandPath(terminalId, cmdId), ProtocolJsonContext.Default.EnvelopeCommandInfo,
            cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>
    /// Waits until the command has finished (long poll). With <paramref name="timeout"/> the agent answers 408 when it
    /// elapses first (thrown as <see cref="SandboxdException"/>). An owned <see cref="HttpClient"/> has no timeout of its
    /// own; a caller-supplied one keeps its <see cref="HttpClient.Timeout"/>.
    /// </summary>
    public async Task<CommandInfo> WaitCommandAsync(string terminalId, string cmdId, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var query = timeout is { } t ? "?timeout=" + t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) : "";
        return (await _client.Transport.SendAsync(HttpMethod.Get, CommandPath(terminalId, cmdId) + "/wait" + query,
            ProtocolJsonContext.Default.EnvelopeCommandInfo, cancellationToken).ConfigureAwait(false)).Data;
    }

    private static string Path(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return "/terminals/" + Uri.EscapeDataString(id);
    }

    private static string CommandPath(string terminalId, string cmdId)
    {
        ArgumentException.ThrowIfNullOrEmpty(cmdId);
        return Path(terminalId) + "/commands/" + Uri.EscapeDataString(cmdId);
    }
}
