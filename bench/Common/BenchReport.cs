using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sandboxd.Bench;

/// <summary>The <c>--meta key=value</c> pairs the scripts pass about the machine and the run (bench/lib.sh machine_meta).</summary>
internal static class MachineMeta
{
    public const string BusyWarning = "WARNING: the machine was busy (other processes kept more than half the CPUs busy during the run, or without that figure the 1-min load average was above it): other work competed for the CPU, so the figures are noisy and the ratios unreliable.";

    /// <summary>What the JSON's machine block says (as <c>warning</c>) when <see cref="Busy"/>.</summary>
    public const string BusyNote = "machine busy during the run (other processes' CPU, or the load average, above nproc/2): figures are noisy";

    private static readonly string[] LoadKeys = ["loadavg_before", "loadavg_after"];

    /// <summary>The pairs in the order given (a key given twice is an error).</summary>
    public static Dictionary<string, string> Parse(Options options) =>
        options.GetAll("meta").Select(m => m.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");

    /// <summary>The machine line of a report: <c>key: value; key: value…</c>.</summary>
    public static string Line(Dictionary<string, string> meta) => string.Join("; ", meta.Select(kv => $"{kv.Key}: {kv.Value}"));

    public static JsonObject ToJson(Dictionary<string, string> meta)
    {
        var machine = new JsonObject();
        foreach (var (key, value) in meta)
        {
            machine[key] = value;
        }

        return machine;
    }

    /// <summary>
    /// True when the other processes kept more than nproc / 2 CPUs busy during the run (<c>cpu_others_during_run</c>, what
    /// lib.sh's guard measures); for a report without that figure, when a 1-minute load average in
    /// <c>loadavg_before</c>/<c>loadavg_after</c> exceeds nproc / 2. The load average is not used when the figure is there:
    /// it lags by minutes and holds the benchmark's own CPU.
    /// </summary>
    public static bool Busy(Dictionary<string, string> meta)
    {
        if (!meta.TryGetValue("nproc", out var n) || !int.TryParse(n, CultureInfo.InvariantCulture, out var nproc))
        {
            return false;
        }

        if (meta.TryGetValue("cpu_others_during_run", out var others)
            && double.TryParse(others, NumberStyles.Float, CultureInfo.InvariantCulture, out var busyOthers))
        {
            return busyOthers > nproc / 2.0;
        }

        return LoadKeys.Any(key =>
            meta.TryGetValue(key, out var load)
            && double.TryParse(load.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var oneMinute)
            && oneMinute > nproc / 2.0);
    }
}

internal static class BenchJson
{
    /// <summary>Indented, without escaping '+', '`' or '"' as \uXXXX (the result is a file, not HTML).</summary>
    public static readonly JsonSerializerOptions Readable = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(string path, JsonNode result) => File.WriteAllText(path, result.ToJsonString(Readable) + "\n");
}

internal static class BenchHttp
{
    /// <summary>HTTP/1.1 keep-alive connections (at most <paramref name="connections"/>) that stay open for the whole run;
    /// no proxy, cookies or decompression.</summary>
    public static SocketsHttpHandler KeepAliveHandler(int connections) => new()
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };
}
