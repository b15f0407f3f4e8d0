using System.Diagnostics;
using System.Globalization;

namespace Sandboxd.Bench;

/// <summary>Summary of a list of samples (ms). Percentiles are nearest-rank.</summary>
internal sealed record Stats(int Count, double P50, double P99, double Mean, double Min, double Max)
{
    /// <summary>The summary, or null when there are no samples.</summary>
    public static Stats? Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.Order().ToArray();
        return new Stats(sorted.Length, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted.Average(), sorted[0], sorted[^1]);
    }

    public static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>The summary of one sample file under a key (for the JSON) and a name (for the table).</summary>
internal sealed record NamedStats(string Key, string Name, int Count, double P50, double P99, double Mean, double Min, double Max)
{
    public static NamedStats Load(string key, string name, string path)
    {
        var s = Stats.Of(Samples.Read(path)) ?? throw new ArgumentException($"{path}: no samples");
        return new NamedStats(key, name, s.Count, s.P50, s.P99, s.Mean, s.Min, s.Max);
    }
}

/// <summary>Sample files: one latency in ms per line, the measuring run writes them and the report reads them.</summary>
internal static class Samples
{
    public static void Write(string path, IEnumerable<double> samples) =>
        File.WriteAllLines(path, samples.Select(s => s.ToString("F6", CultureInfo.InvariantCulture)));

    public static double[] Read(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
}

/// <summary>Monotonic clock helpers (Stopwatch = CLOCK_MONOTONIC on Linux).</summary>
internal static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public static long After(TimeSpan span) => Now + (long)(span.TotalSeconds * Stopwatch.Frequency);
}
