using System.Net.Http.Json;
using Sandboxd.Protocol;

namespace Sandboxd.Client.Gateway;

/// <summary>
/// A typed client for a Sandbox Gateway (<c>sandboxd-gateway</c>, or any gateway speaking the ComputeSDK gateway
/// protocol, gateway-http.md): create, get, find, findOrCreate, extend and destroy sandboxes, and snapshots. Every call
/// carries the API key in <c>X-ComputeSDK-API-Key</c>. Create, get, find and findOrCreate return a
/// <see cref="GatewaySandbox"/> whose <see cref="GatewaySandbox.Client"/> already answered <c>GET /health</c>.
/// "Not found" is a value (null, false); everything else the gateway refuses throws <see cref="SandboxdException"/>.
/// </summary>
public sealed partial class GatewayClient : IDisposable
{
    /// <summary>The namespace of sandboxes whose namespace is not given, as in the official client.</summary>
    public const string DefaultNamespace = "default";

    /// <summary>How long a sandbox lives on after <see cref="ExtendAsync"/> without a duration (the official client's 15 min).</summary>
    public static readonly TimeSpan DefaultExtension = TimeSpan.FromMinutes(15);

    private static readonly GatewayJsonContext Json = GatewayJsonContext.Default;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string _apiKey;
    private readonly GatewayTransport _transport;

    /// <summary>A client that owns its <see cref="HttpClient"/> (disposed with it).</summary>
    /// <param name="gatewayUrl">The gateway, e.g. <c>http://127.0.0.1:8080</c> (one trailing slash is removed).</param>
    /// <param name="apiKey">The ComputeSDK API key the gateway knows.</param>
    /// <param name="options">Timeouts and the options of the returned sandboxes' clients.</param>
    public GatewayClient(Uri gatewayUrl, string apiKey, GatewayClientOptions? options = null)
        : this(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, ownsHttp: true, gatewayUrl, apiKey, options)
    {
    }

    /// <summary>A client over the caller's <see cref="HttpClient"/> (not disposed by this client; its <c>BaseAddress</c> is ignored).</summary>
    public GatewayClient(HttpClient httpClient, Uri gatewayUrl, string apiKey, GatewayClientOptions? options = null)
        : this(httpClient, ownsHttp: false, gatewayUrl, apiKey, options)
    {
    }

    private GatewayClient(HttpClient http, bool ownsHttp, Uri gatewayUrl, string apiKey, GatewayClientOptions? options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(gatewayUrl);
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        if (!gatewayUrl.IsAbsoluteUri || gatewayUrl.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The gateway URL must be an absolute http(s) URL, not '{gatewayUrl}'.", nameof(gatewayUrl));
        }

        _http = http;
        _ownsHttp = ownsHttp;
        _apiKey = apiKey;
        Options = options ?? GatewayClientOptions.Default;
        var trimmed = gatewayUrl.GetLeftPart(UriPartial.Path);
        GatewayUrl = new Uri(trimmed.EndsWith('/') ? trimmed[..^1] : trimmed);
        _transport = new GatewayTransport(http, GatewayUrl.ToString().TrimEnd('/'), apiKey, Options);
    }

    /// <summary>The gateway URL; every route (<c>/v1/…</c>) is appended to it.</summary>
    public Uri GatewayUrl { get; }

    /// <summary>Timeouts and sandbox client options.</summary>
    public GatewayClientOptions Options { get; }

    /// <summary>Creates a sandbox (G1, <c>POST /v1/sandboxes</c>) and waits until its daemon answers.</summary>
    public async Task<GatewaySandbox> CreateAsync(CreateGatewaySandboxRequest? options = null, CancellationToken cancellationToken = default)
    {
        var envelope = await _transport.SendAsync(HttpMethod.Post, "/v1/sandboxes", options ?? new CreateGatewaySandboxRequest(),
            Json.CreateGatewaySandboxRequest, Json.GatewayEnvelopeGatewaySandboxInfo, cancellationToken, notFoundIsError: true).ConfigureAwait(false);
        var info = Require(envelope, "POST /v1/sandboxes");
        return await OpenAsync(RequireId(info, "POST /v1/sandboxes"), info, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sandbox <paramref name="sandboxId"/> (G2), ready to use; null when this API key has no such sandbox.
    /// While a findOrCreate is still creating it, this call waits as findOrCreate does.</summary>
    public async Task<GatewaySandbox?> GetAsync(string sandboxId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var path = "/v1/sandboxes/" + Uri.EscapeDataString(sandboxId);
        var envelope = await PollWhileCreatingAsync(
            token => _transport.SendAsync(HttpMethod.Get, path, Json.GatewayEnvelopeGatewaySandboxInfo, token), sandboxId, cancellationToken).ConfigureAwait(false);
        if (envelope is not { Success: true, Data: { } info })
        {
            return null;
        }

        try
        {
            return await OpenAsync(sandboxId, info, cancellationToken).ConfigureAwait(false);
        }
        catch (GatewaySandboxGoneException)
        {
            return null; // it expired or was destroyed between the gateway's answer and its agent's
        }
    }

    /// <summary>Destroys the sandbox (G3): true when the gateway destroyed it, false when this API key has no such sandbox.</summary>
    public Task<bool> DestroyAsync(string sandboxId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        return _transport.SendAsync(HttpMethod.Delete, "/v1/sandboxes/" + Uri.EscapeDataString(sandboxId), content: null, cancellationToken);
    }

    /// <summary>
    /// The sandbox named <paramref name="name"/> in <paramref name="namespace"/> (default <c>default</c>), created with
    /// <paramref name="options"/> if there is none (G4). While another call is creating it the gateway answers
    /// <c>status:"creating"</c>; this call then asks again (500 ms, ×1.5, at most 2 s apart) for up to
    /// <see cref="GatewayClientOptions.CreatingTimeout"/>.
    /// </summary>
    public async Task<GatewaySandbox> FindOrCreateAsync(string name, string? @namespace = null, CreateGatewaySandboxRequest? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        const string Route = "POST /v1/sandboxes/find-or-create";
        var request = (options ?? new CreateGatewaySandboxRequest()) with { Name = name, Namespace = @namespace ?? DefaultNamespace };
        var envelope = await PollWhileCreatingAsync(token => _transport.SendAsync(HttpMethod.Post, "/v1/sandboxes/find-or-create", request,
            Json.CreateGatewaySandboxRequest, Json.GatewayEnvelopeGatewaySandboxInfo, token, notFoundIsError: true), $"{request.Namespace}/{name}",
            cancellationToken).ConfigureAwait(false);
        var info = Require(envelope, Route);
        return await OpenAsync(RequireId(info, Route), info, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sandbox named <paramref name="name"/> in <paramref name="namespace"/> (G5), ready to use; null when there
    /// is none. While a findOrCreate is still creating it, this call waits as findOrCreate does (as the official client).</summary>
    public async Task<GatewaySandbox?> FindAsync(string name, string? @namespace = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var request = new FindGatewaySandboxRequest(name, @namespace ?? DefaultNamespace);
        var envelope = await PollWhileCreatingAsync(token => _transport.SendAsync(HttpMethod.Post, "/v1/sandboxes/find", request,
            Json.FindGatewaySandboxRequest, Json.GatewayEnvelopeGatewaySandboxInfo, token), $"{request.Namespace}/{name}", cancellationToken).ConfigureAwait(false);
        return envelope is { Success: true, Data: { } info }
            ? await OpenAsync(RequireId(info, "POST /v1/sandboxes/find"), info, cancellationToken).ConfigureAwait(false)
            : null;
    }

    /// <summary>Pushes the sandbox's expiry by <paramref name="duration"/> (G6; default 15 min). Throws
    /// <see cref="SandboxdException"/> (404) when this API key has no such sandbox.</summary>
    public async Task ExtendAsync(string sandboxId, TimeSpan? duration = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var body = new ExtendGatewaySandboxRequest((long)(duration ?? DefaultExtension).TotalMilliseconds);
        var path = "/v1/sandboxes/" + Uri.EscapeDataString(sandboxId) + "/extend";
        if (!await _transport.SendAsync(HttpMethod.Post, path, JsonContent.Create(body, Json.ExtendGatewaySandboxRequest), cancellationToken).ConfigureAwait(false))
        {
            throw NotFound("POST " + path, $"the sandbox {sandboxId}");
        }
    }

    /// <summary>Releases the <see cref="HttpClient"/> if this client owns it. Returned sandboxes have clients of their own.</summary>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
