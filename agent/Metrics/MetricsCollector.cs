using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Sandboxd.Processes;
using Sandboxd.Telemetry;

namespace Sandboxd.Metrics;

/// <summary>
/// Aggregates the agent's meter (<see cref="AgentMeter"/>) with a <see cref="MeterListener"/> — counters summed per tag
/// set, histograms in fixed buckets, observable gauges read at scrape time — and writes them in the Prometheus text
/// exposition format 0.0.4 (docs/decisions: no AOT-clean exporter package was available).
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Series> _series = new();
    private readonly Meter _gauges = new("Sandboxd.Process");
    private readonly Lock _scrape = new();

    private sealed class Series
    {
        public double Value;
        public readonly long[] BucketCounts = new long[Buckets.Length];
        public long Count;
        public double Sum;
    }

    public MetricsCollector(Spawner spawner)
    {
        _gauges.CreateObservableGauge("sandboxd.process.resident_memory.bytes", ResidentBytes, description: "Resident memory of the agent process");
        _gauges.CreateObservableGauge("sandboxd.process.open_fds", OpenFds, description: "Open file descriptors of the agent process");
        _gauges.CreateObservableGauge("sandboxd.dotnet.gc.heap.bytes", () => GC.GetTotalMemory(false), description: "Managed heap size");
        _gauges.CreateObservableGauge("sandboxd.dotnet.gc.collections", () => Enumerable.Range(0, GC.MaxGeneration + 1)
            .Select(g => new Measurement<long>(GC.CollectionCount(g), new KeyValuePair<string, object?>("generation", g.ToString(CultureInfo.InvariantCulture)))),
            description: "GC collections since start, by generation");
        _gauges.CreateObservableGauge("sandboxd.processes.live", () => spawner.Live.GroupBy(c => c.Owner?.Kind ?? "other")
            .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("kind", g.Key))),
            description: "Live children by kind: open terminals (terminal), servers (server), running commands (command)");

        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name is AgentMeter.Name or "Sandboxd.Process")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private static long ResidentBytes()
    {
        try
        {
            var statm = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(statm[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    private static int OpenFds()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = _series.GetOrAdd((instrument, Labels(tags)), static _ => new Series());
        lock (series)
        {
            switch (instrument)
            {
                case Histogram<double>:
                    series.Count++;
                    series.Sum += value;
                    for (var b = 0; b < Buckets.Length; b++)
                    {
                        if (value <= Buckets[b])
                        {
                            series.BucketCounts[b]++;
                        }
                    }

                    break;
                case Counter<long> or Counter<int> or Counter<double> or UpDownCounter<long>:
                    series.Value += value;
                    break;
                default:
                    series.Value = value; // gauges: the last observation
                    break;
            }
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        var sorted = tags.ToArray();
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var text = new StringBuilder();
        foreach (var (key, value) in sorted)
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(SanitizeName(key)).Append("=\"").Append(EscapeLabel(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }

        return text.ToString();
    }

    private static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string SanitizeName(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] == '_' || chars[i] == ':'))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    /// <summary>The Prometheus name: dots become underscores, the unit is suffixed, counters end in _total.</summary>
    private static string PrometheusName(Instrument instrument)
    {
        var name = SanitizeName(instrument.Name);
        var suffix = instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
        if (suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal))
        {
            name += suffix;
        }

        return instrument is Counter<long> or Counter<int> or Counter<double> ? name + "_total" : name;
    }

    /// <summary>Reads the observable gauges and writes every series.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            // Gauges are observed afresh: a label set that is no longer observed (the last terminal closed) disappears.
            foreach (var key in _series.Keys)
            {
                if (key.Instrument.IsObservable)
                {
                    _series.TryRemove(key, out _);
                }
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var group in _series.ToArray().GroupBy(s => s.Key.Instrument).OrderBy(g => PrometheusName(g.Key), StringComparer.Ordinal))
            {
                var instrument = group.Key;
                var name = PrometheusName(instrument);
                var type = instrument switch
                {
                    Histogram<double> => "histogram",
                    Counter<long> or Counter<int> or Counter<double> => "counter",
                    _ => "gauge",
                };
                text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(instrument.Description ?? instrument.Name)).Append('\n');
                text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
                foreach (var ((_, labels), series) in group.OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
                {
                    lock (series)
                    {
                        if (type == "histogram")
                        {
                            for (var b = 0; b < Buckets.Length; b++)
                            {
                                Line(text, name + "_bucket", Join(labels, $"le=\"{Buckets[b].ToString(CultureInfo.InvariantCulture)}\""), series.BucketCounts[b]);
                            }

                            Line(text, name + "_bucket", Join(labels, "le=\"+Inf\""), series.Count);
                            Line(text, name + "_sum", labels, series.Sum);
                            Line(text, name + "_count", labels, series.Count);
                        }
                        else
                        {
                            Line(text, name, labels, series.Value);
                        }
                    }
                }
            }

            return text.ToString();
        }
    }

    private static string Join(string labels, string more) => labels.Length == 0 ? more : labels + "," + more;

    private static void Line(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }

        text.Append(' ').Append(double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    public void Dispose()
    {
        _listener.Dispose();
        _gauges.Dispose();
    }
}
