using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>The processes of the sandbox (<c>GET /processes</c>) and signals to them (a sandboxd extension).</summary>
public sealed class ProcessesClient
{
    private readonly SandboxClient _client;

    internal ProcessesClient(SandboxClient client) => _client = client;

    /// <summary>Every process of this sandbox with who started it.</summary>
    public async Task<IReadOnlyList<ProcessEntry>> ListAsync(CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Get, "/processes", ProtocolJsonContext.Default.EnvelopeProcessListData, cancellationToken)
            .ConfigureAwait(false);
        return envelope.Data.Processes;
    }

    /// <summary>Sends <paramref name="signal"/> (TERM, KILL, INT, HUP, USR1…) to a process of this sandbox, or to its group; 404 for any other pid.</summary>
    public async Task<SignalProcessData> SignalAsync(int pid, string signal, bool group = false, CancellationToken cancellationToken = default)
    {
        var envelope = await _client.Transport.SendAsync(HttpMethod.Post, $"/processes/{pid}/signal", new SignalProcessRequest(signal, group ? true : null),
            ProtocolJsonContext.Default.SignalProcessRequest, ProtocolJsonContext.Default.EnvelopeSignalProcessData, cancellationToken).ConfigureAwait(false);
        return envelope.Data;
    }
}
