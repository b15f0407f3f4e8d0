using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Sandboxd.Bench.Live;

/// <summary>The agent's HTTP API (Bearer token) and its /ws socket (token in the query, protocol=json).</summary>
internal sealed class AgentApi : IDisposable
{
    private readonly HttpClient _http;

    public AgentApi(string url, string token, int connections = 8)
    {
        BaseUrl = new Uri(url.TrimEnd('/') + "/");
        Token = token;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri BaseUrl { get; }

    public string Token { get; }

    /// <summary>POST a JSON body; returns the envelope's <c>data</c> (throws on a non-2xx answer).</summary>
    public async Task<JsonElement> PostAsync(string path, string json, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync(new Uri(BaseUrl, path.TrimStart('/')), content, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /{path.TrimStart('/')} answered {(int)response.StatusCode}: {text}");
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("data").Clone();
    }

    public async Task<JsonElement> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri(BaseUrl, path.TrimStart('/')), cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /{path.TrimStart('/')} answered {(int)response.StatusCode}: {text}");
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.TryGetProperty("data", out var data) ? data.Clone() : doc.RootElement.Clone();
    }

    /// <summary>DELETE; returns the status code (2xx expected by callers that check).</summary>
    public async Task<int> DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.DeleteAsync(new Uri(BaseUrl, path.TrimStart('/')), cancellationToken).ConfigureAwait(false);
        return (int)response.StatusCode;
    }

    public async Task<ClientWebSocket> ConnectSocketAsync(CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        var ws = new Uri($"ws://{BaseUrl.Authority}/ws?token={Uri.EscapeDataString(Token)}&protocol=json");
        await socket.ConnectAsync(ws, timeout.Token).ConfigureAwait(false);
        return socket;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Reads whole WebSocket messages into one reused buffer (no per-frame allocation on the timed path).</summary>
internal sealed class FrameReader(ClientWebSocket socket)
{
    private byte[] _buffer = new byte[64 * 1024];

    public ClientWebSocket Socket { get; } = socket;

    public async ValueTask<ReadOnlyMemory<byte>> ReceiveAsync(CancellationToken cancellationToken)
    {
        var count = 0;
        while (true)
        {
            if (count == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var result = await Socket.ReceiveAsync(_buffer.AsMemory(count), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException($"the agent closed the socket ({Socket.CloseStatus} {Socket.CloseStatusDescription})");
            }

            count += result.Count;
            if (result.EndOfMessage)
            {
                return _buffer.AsMemory(0, count);
            }
        }
    }

    public Task SendTextAsync(string json, CancellationToken cancellationToken) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, cancellationToken);
}

/// <summary>A daemon→client JSON message: <c>{"type", "channel", "data"}</c>.</summary>
internal readonly record struct LiveMessage(string Type, string Channel, JsonElement Data)
{
    public static LiveMessage Parse(ReadOnlyMemory<byte> frame)
    {
        using var doc = JsonDocument.Parse(frame);
        var root = doc.RootElement;
        return new LiveMessage(
            root.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "",
            root.TryGetProperty("channel", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() ?? "" : "",
            root.TryGetProperty("data", out var d) ? d.Clone() : default);
    }

    public string? Str(string key) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

internal static class Json
{
    public static string Str(string value) => JsonSerializer.Serialize(value, ToolJson.Default.String);

    public static string Input(string terminalId, string input) =>
        "{\"type\":\"terminal:input\",\"data\":{\"terminal_id\":" + Str(terminalId) + ",\"input\":" + Str(input) + "}}";

    public static string Subscribe(string channel) => "{\"type\":\"subscribe\",\"channel\":" + Str(channel) + ",\"data\":{}}";
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ToolJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>What /proc says about a process.</summary>
internal static class Proc
{
    /// <summary>A field of /proc/PID/status in kB (VmRSS, VmHWM…), or -1 when the process is gone.</summary>
    public static long StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone
        }

        return -1;
    }

    /// <summary>Pss of /proc/PID/smaps_rollup in kB, or -1.</summary>
    public static long PssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    return long.Parse(line[4..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone
        }

        return -1;
    }

    /// <summary>(state, session id, utime+stime in ticks) from /proc/PID/stat, or null when gone.</summary>
    public static (char State, int Session, long CpuTicks)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (rest[0][0], int.Parse(rest[3], CultureInfo.InvariantCulture),
                long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    public static int FdCount(int pid)
    {
        try
        {
            return Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    public static IEnumerable<int> AllPids() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n is { Length: > 0 } && n.All(char.IsAsciiDigit))
            .Select(n => int.Parse(n!, CultureInfo.InvariantCulture));
}
