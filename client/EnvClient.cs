using System.Net;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>Environment files (<c>/env?file=</c>): <c>KEY=VALUE</c> files read and merged by the agent.</summary>
public sealed class EnvClient
{
    private readonly SandboxClient _client;

    internal EnvClient(SandboxClient client) => _client = client;

    /// <summary>The variables of an env file (404 if it does not exist).</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetAsync(string file, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Get, Path(file), ProtocolJsonContext.Default.EnvelopeEnvData, cancellationToken)
            .ConfigureAwait(false)).Data.Variables;

    /// <summary>Merges variables into the file (created if missing); returns the keys written.</summary>
    public async Task<IReadOnlyList<string>> SetAsync(string file, IReadOnlyDictionary<string, string> variables, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Post, Path(file), new EnvUpdateRequest(variables),
            ProtocolJsonContext.Default.EnvUpdateRequest, ProtocolJsonContext.Default.EnvelopeEnvKeysData, cancellationToken).ConfigureAwait(false)).Data.Keys;

    /// <summary>Removes keys from the file; returns the keys that were removed.</summary>
    public async Task<IReadOnlyList<string>> DeleteAsync(string file, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) =>
        (await _client.Transport.SendAsync(HttpMethod.Delete, Path(file), new EnvDeleteRequest(keys),
            ProtocolJsonContext.Default.EnvDeleteRequest, ProtocolJsonContext.Default.EnvelopeEnvKeysData, cancellationToken).ConfigureAwait(false)).Data.Keys;

    /// <summary>True if the env file exists.</summary>
    public Task<bool> ExistsAsync(string file, CancellationToken cancellationToken = default) =>
        _client.Transport.ExistsAsync(Path(file), cancellationToken);

    private static string Path(string file)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        return "/env?file=" + WebUtility.UrlEncode(file);
    }
}
