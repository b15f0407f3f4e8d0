using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Sandboxd.Gateway.Hosting;

namespace Sandboxd.Gateway.Docker;

/// <summary>
/// A small typed client for the Docker Engine API (pinned to v1.41, dockerd 20.10 and newer) over a Unix socket or
/// <c>tcp://</c> with TLS client certificates: <see cref="HttpClient"/> with a <see cref="SocketsHttpHandler"/> and
/// source-generated JSON, so it is trim- and AOT-safe (docs/adr/0009-docker-provider.md says why not a library).
/// </summary>
internal sealed class DockerEngineClient : IDisposable
{
    public const string ApiVersion = "1.41";
    private readonly HttpClient _http;

    public DockerEngineClient(DockerHostSpec host)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(5) };
        Uri baseAddress;
        if (host.SocketPath is { } socket)
        {
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            };
            baseAddress = new Uri($"http://docker/v{ApiVersion}/");
        }
        else
        {
            var tls = host.TlsDir!;
            var (ca, client) = DockerTls.Load(tls);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [client],
                // The engine's certificate must chain to the engine's own CA (ca.pem), not to the system's roots.
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(certificate));
                },
            };
            baseAddress = new Uri($"https://{host.TcpHost}:{host.TcpPort}/v{ApiVersion}/");
        }

        _http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync("_ping", cancellationToken);
        await EnsureAsync(response, "ping", cancellationToken);
    }

    public async Task<VersionResponse> VersionAsync(CancellationToken cancellationToken) =>
        await GetAsync("version", DockerJsonContext.Default.VersionResponse, cancellationToken)
        ?? throw new HttpRequestException("The engine has no version.");

    /// <summary>Whether the engine has the default <c>bridge</c> network (not the case with <c>dockerd --bridge none</c>).</summary>
    public async Task<bool> HasBridgeAsync(CancellationToken cancellationToken) =>
        await GetAsync("networks/bridge", DockerJsonContext.Default.NetworkInspect, cancellationToken) is not null;

    public async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"images/{Uri.EscapeDataString(image)}/json", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureAsync(response, $"inspect image {image}", cancellationToken);
        return true;
    }

    /// <summary><c>POST /images/create</c>: the answer is a stream of JSON lines; an <c>error</c> in any of them fails the pull.</summary>
    public async Task PullAsync(string image, CancellationToken cancellationToken)
    {
        var (name, tag) = SplitTag(image);
        using var response = await _http.PostAsync($"images/create?fromImage={Uri.EscapeDataString(name)}&tag={Uri.EscapeDataString(tag)}", null, cancellationToken);
        await EnsureAsync(response, $"pull {image}", cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length > 0 && JsonSerializer.Deserialize(line, DockerJsonContext.Default.PullProgress) is { Error: { } error })
            {
                throw new GatewayException(GatewayErrorCode.AgentFailed, $"The engine could not pull {image}: {error}");
            }
        }
    }

    public async Task<string> CreateContainerAsync(string name, ContainerCreateRequest request, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync($"containers/create?name={Uri.EscapeDataString(name)}", request, DockerJsonContext.Default.ContainerCreateRequest, cancellationToken);
        await EnsureAsync(response, $"create container {name}", cancellationToken);
        var created = await response.Content.ReadFromJsonAsync(DockerJsonContext.Default.ContainerCreateResponse, cancellationToken);
        return created!.Id;
    }

    /// <summary>
    /// <c>PUT /containers/{id}/archive</c>: the engine extracts the tar at <paramref name="path"/> with the owners and
    /// modes of its headers. (<c>copyUIDGID=1</c> would look the container's user up in the engine HOST's passwd
    /// database — "getent unable to find entry" for an image-only user — so the caller resolves the uid itself.)
    /// </summary>
    public async Task PutArchiveAsync(string container, string path, Stream tar, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(tar);
        content.Headers.ContentType = new("application/x-tar");
        using var response = await _http.PutAsync($"containers/{container}/archive?path={Uri.EscapeDataString(path)}", content, cancellationToken);
        await EnsureAsync(response, $"copy files into {container}", cancellationToken);
    }

    public async Task StartContainerAsync(string container, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync($"containers/{container}/start", null, cancellationToken);
        await EnsureAsync(response, $"start {container}", cancellationToken);
    }

    /// <summary>The container, or null if the engine has none of that name or id.</summary>
    public Task<ContainerInspect?> InspectAsync(string container, CancellationToken cancellationToken) =>
        GetAsync($"containers/{container}/json", DockerJsonContext.Default.ContainerInspect, cancellationToken);

    /// <summary>Stops (TERM → <paramref name="graceSeconds"/> → KILL) and removes a container and its anonymous volumes; <c>false</c> if it was not there.</summary>
    public async Task<bool> RemoveContainerAsync(string container, int graceSeconds, CancellationToken cancellationToken)
    {
        using (var stop = await _http.PostAsync($"containers/{container}/stop?t={graceSeconds}", null, cancellationToken))
        {
            if (stop.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }

            if (stop.StatusCode != HttpStatusCode.NotModified)
            {
                await EnsureAsync(stop, $"stop {container}", cancellationToken);
            }
        }

        using var response = await _http.DeleteAsync($"containers/{container}?v=1&force=1", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureAsync(response, $"remove {container}", cancellationToken);
        return true;
    }

    /// <summary>Every container (running or not) carrying <paramref name="label"/>=<paramref name="value"/>.</summary>
    public async Task<List<ContainerSummary>> ListByLabelAsync(string label, string value, CancellationToken cancellationToken)
    {
        var filters = JsonSerializer.Serialize(new Dictionary<string, List<string>> { ["label"] = [$"{label}={value}"] }, DockerJsonContext.Default.DictionaryStringListString);
        return await GetAsync($"containers/json?all=1&filters={Uri.EscapeDataString(filters)}", DockerJsonContext.Default.ListContainerSummary, cancellationToken) ?? [];
    }

    /// <summary><c>docker commit</c> (the container is paused meanwhile): the new image's id.</summary>
    public async Task<string> CommitAsync(string container, string image, CancellationToken cancellationToken)
    {
        var (repo, tag) = SplitTag(image);
        using var response = await _http.PostAsync($"commit?container={container}&repo={Uri.EscapeDataString(repo)}&tag={Uri.EscapeDataString(tag)}&pause=1", null, cancellationToken);
        await EnsureAsync(response, $"commit {container}", cancellationToken);
        return (await response.Content.ReadFromJsonAsync(DockerJsonContext.Default.IdResponse, cancellationToken))!.Id;
    }

    public async Task<bool> RemoveImageAsync(string image, CancellationToken cancellationToken)
    {
        using var response = await _http.DeleteAsync($"images/{Uri.EscapeDataString(image)}?force=1", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureAsync(response, $"remove image {image}", cancellationToken);
        return true;
    }

    /// <summary>
    /// <c>GET /containers/{id}/archive</c>: the content of one regular file of a container (created or running), or
    /// null if it has none.
    /// </summary>
    public async Task<string?> ReadFileAsync(string container, string path, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"containers/{container}/archive?path={Uri.EscapeDataString(path)}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureAsync(response, $"read {path} in {container}", cancellationToken);
        await using var tar = new System.Formats.Tar.TarReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        if (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is not { DataStream: { } data })
        {
            return null;
        }

        using var reader = new StreamReader(data);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    /// <summary>The container's output so far (the engine multiplexes it in 8-byte-header frames when there is no TTY).</summary>
    public async Task<string> LogsAsync(string container, bool stderr, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync($"containers/{container}/logs?stdout=1&stderr={(stderr ? 1 : 0)}", cancellationToken);
        await EnsureAsync(response, $"read the log of {container}", cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var text = new StringBuilder();
        var at = 0;
        while (at + 8 <= bytes.Length)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4, 4));
            var take = Math.Min(size, bytes.Length - at - 8);
            text.Append(Encoding.UTF8.GetString(bytes, at + 8, take));
            at += 8 + size;
        }

        return text.ToString();
    }

    private async Task<T?> GetAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await _http.GetAsync(path, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureAsync(response, path, cancellationToken);
        return await response.Content.ReadFromJsonAsync(type, cancellationToken);
    }

    private static (string Name, string Tag) SplitTag(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>A non-2xx answer becomes a <see cref="DockerEngineException"/> with the engine's own message.</summary>
    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? message = null;
        try
        {
            message = JsonSerializer.Deserialize(body, DockerJsonContext.Default.EngineError)?.Message;
        }
        catch (JsonException)
        {
            // not JSON: keep the raw text
        }

        throw new DockerEngineException((int)response.StatusCode, $"Docker engine: {what}: {(int)response.StatusCode} {message ?? body.Trim()}");
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The engine answered with an error status (its message included).</summary>
internal sealed class DockerEngineException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
