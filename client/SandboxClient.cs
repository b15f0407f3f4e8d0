using Sandboxd.Client.Http;
using Sandboxd.Client.Live;
using Sandboxd.Protocol;

namespace Sandboxd.Client;

/// <summary>
/// A typed client for one sandbox of a sandboxd agent (or any daemon speaking the ComputeSDK protocol). HTTP calls go
/// through an <see cref="HttpClient"/> (the caller's, or one this client owns and disposes); terminals, command streams,
/// watchers and signals share one WebSocket, opened on first use, that reconnects by itself and resumes every stream
/// without a gap or a duplicate. Methods mirror the protocol's routes, grouped like the official TypeScript client
/// (<c>Run</c>, <c>Files</c>, <c>Terminals</c>…). Failures throw <see cref="SandboxdException"/>.
/// </summary>
public sealed class SandboxClient : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Lock _gate = new();

    /// <remarks>Guarded by <see cref="_gate"/>; created on first use.</remarks>
    private LiveSocket? _live;

    private bool _disposed;

    /// <summary>A client that owns its <see cref="HttpClient"/> (disposed with it).</summary>
    /// <param name="baseUrl">The sandbox URL, e.g. <c>http://127.0.0.1:18080</c> or a child's <c>…/s/sandbox-1a2b3c4d</c>.</param>
    /// <param name="token">Access or session token (sent as <c>Authorization: Bearer</c>, and as <c>?token=</c> on the WebSocket); null for none.</param>
    /// <param name="options">WebSocket tuning.</param>
    public SandboxClient(Uri baseUrl, string? token, SandboxClientOptions? options = null)
        : this(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, ownsHttp: true, baseUrl, token, options)
    {
    }

    /// <summary>A client over the caller's <see cref="HttpClient"/> (not disposed by this client; its <c>BaseAddress</c> is ignored).</summary>
    public SandboxClient(HttpClient httpClient, Uri baseUrl, string? token, SandboxClientOptions? options = null)
        : this(httpClient, ownsHttp: false, baseUrl, token, options)
    {
    }

    private SandboxClient(HttpClient http, bool ownsHttp, Uri baseUrl, string? token, SandboxClientOptions? options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (!baseUrl.IsAbsoluteUri || baseUrl.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The sandbox URL must be an absolute http(s) URL, not '{baseUrl}'.", nameof(baseUrl));
        }

        _http = http;
        _ownsHttp = ownsHttp;
        Options = options ?? SandboxClientOptions.Default;
        var trimmed = baseUrl.GetLeftPart(UriPartial.Path);
        trimmed = trimmed.EndsWith('/') ? trimmed[..^1] : trimmed; // the protocol strips one trailing slash
        BaseUrl = new Uri(trimmed);
        Token = token;
        Transport = new HttpTransport(http, trimmed, token);
        Run = new RunClient(this);
        Files = new FilesClient(this);
        Overlays = new OverlaysClient(this);
        Servers = new ServersClient(this);
        Terminals = new TerminalsClient(this);
        Watchers = new WatchersClient(this);
        Signals = new SignalsClient(this);
        Env = new EnvClient(this);
        SessionTokens = new SessionTokensClient(this);
        MagicLinks = new MagicLinksClient(this);
        Auth = new AuthClient(this);
        Info = new InfoClient(this);
        Sandboxes = new SandboxesClient(this);
        Processes = new ProcessesClient(this);
    }

    /// <summary>The sandbox URL; every route is appended to it (after removing one trailing slash).</summary>
    public Uri BaseUrl { get; }

    /// <summary>The token this client authenticates with.</summary>
    public string? Token { get; }

    /// <summary>WebSocket tuning.</summary>
    public SandboxClientOptions Options { get; }

    /// <summary>Commands (foreground, background, streamed) and code.</summary>
    public RunClient Run { get; }

    /// <summary>Files: list, read, write, batch, exists, delete.</summary>
    public FilesClient Files { get; }

    /// <summary>Filesystem overlays (template directories).</summary>
    public OverlaysClient Overlays { get; }

    /// <summary>Managed servers.</summary>
    public ServersClient Servers { get; }

    /// <summary>Terminals: exec mode (commands) and PTY.</summary>
    public TerminalsClient Terminals { get; }

    /// <summary>File watchers.</summary>
    public WatchersClient Watchers { get; }

    /// <summary>The signal service.</summary>
    public SignalsClient Signals { get; }

    /// <summary>Environment files.</summary>
    public EnvClient Env { get; }

    /// <summary>Session tokens (access token required).</summary>
    public SessionTokensClient SessionTokens { get; }

    /// <summary>Magic links (access token required).</summary>
    public MagicLinksClient MagicLinks { get; }

    /// <summary>Authentication status and help.</summary>
    public AuthClient Auth { get; }

    /// <summary>Health, info and readiness.</summary>
    public InfoClient Info { get; }

    /// <summary>Child sandboxes.</summary>
    public SandboxesClient Sandboxes { get; }

    /// <summary>The processes of the sandbox and signals to them (a sandboxd extension).</summary>
    public ProcessesClient Processes { get; }

    internal HttpTransport Transport { get; }

    /// <summary>A client for a child sandbox, on <c>&lt;base&gt;/s/&lt;subdomain&gt;</c> (same token, same <see cref="HttpClient"/>,
    /// its own WebSocket). Dispose it before this client when this client owns the <see cref="HttpClient"/>.</summary>
    public SandboxClient ForChild(SandboxInfo child)
    {
        ArgumentNullException.ThrowIfNull(child);
        return OpenChild(child.Subdomain);
    }

    /// <summary>A client for the child sandbox <paramref name="subdomain"/> (see <see cref="ForChild"/>).</summary>
    public SandboxClient OpenChild(string subdomain)
    {
        ArgumentException.ThrowIfNullOrEmpty(subdomain);
        return new SandboxClient(_http, ownsHttp: false, new Uri(Transport.BaseUrl + "/s/" + Uri.EscapeDataString(subdomain)), Token, Options);
    }

    /// <summary>The WebSocket URL: <c>ws(s)://…/ws?token=T&amp;protocol=json</c>.</summary>
    internal Uri WebSocketUrl
    {
        get
        {
            var builder = new UriBuilder(BaseUrl) { Scheme = BaseUrl.Scheme == "https" ? "wss" : "ws" };
            builder.Path = builder.Path.TrimEnd('/') + "/ws";
            builder.Query = (string.IsNullOrEmpty(Token) ? "" : "token=" + Uri.EscapeDataString(Token) + "&") + "protocol=json";
            return builder.Uri;
        }
    }

    /// <summary>The shared WebSocket (created, not yet connected, on first use).</summary>
    internal LiveSocket Live
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _live ??= new LiveSocket(WebSocketUrl, Options);
            }
        }
    }

    /// <summary>Closes the WebSocket (ending every stream) and disposes the <see cref="HttpClient"/> if this client owns it.</summary>
    public async ValueTask DisposeAsync()
    {
        LiveSocket? live;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            live = _live;
        }

        if (live is not null)
        {
            await live.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
