using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Prometheus;
using Sandboxd.Processes;
using Sandboxd.Telemetry;
using PrometheusCounter = Prometheus.Counter;
using PrometheusGauge = Prometheus.Gauge;
using PrometheusHistogram = Prometheus.Histogram;

namespace Sandboxd.Metrics;

/// <summary>
/// Exports the agent's meter (<see cref="AgentMeter"/>, System.Diagnostics.Metrics) through prometheus-net
/// (docs/adr/0011-metrics-exporter.md): a <see cref="MeterListener"/> feeds each measurement into a prometheus-net
/// counter, histogram or gauge of a private <see cref="CollectorRegistry"/>, and prometheus-net's serializer writes the
/// text exposition. prometheus-net's own Meter adapter is not used: it exports .NET counters as gauges and prefixes
/// the meter's name, so the series would lose their counter type and change names.
/// </summary>
internal sealed class MetricsExporter : IDisposable
{
    private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly MetricFactory _factory;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string LabelNames), Collector> _collectors = new();
    private readonly Meter _gauges = new("Sandboxd.Process");
    private readonly Lock _scrape = new();

    /// <summary>The label sets the observable gauges reported in the current scrape (the others are removed).</summary>
    private readonly HashSet<(Collector, string)> _observed = [];

    public MetricsExporter(Spawner spawner)
    {
        _factory = (MetricFactory)Prometheus.Metrics.WithCustomRegistry(_registry);
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
        var sorted = tags.ToArray();
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var names = new string[sorted.Length];
        var values = new string[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            names[i] = SanitizeName(sorted[i].Key);
            values[i] = Convert.ToString(sorted[i].Value, CultureInfo.InvariantCulture) ?? "";
        }

        var collector = _collectors.GetOrAdd((instrument, string.Join(',', names)), key => Create(key.Instrument, names));
        switch (collector)
        {
            case PrometheusCounter counter:
                counter.WithLabels(values).Inc(value);
                break;
            case PrometheusHistogram histogram:
                histogram.WithLabels(values).Observe(value);
                break;
            case PrometheusGauge gauge when instrument.IsObservable:
                gauge.WithLabels(values).Set(value);
                _observed.Add((gauge, string.Join('\0', values))); // observations only arrive under _scrape
                break;
            case PrometheusGauge gauge:
                gauge.WithLabels(values).Inc(value); // an up-down counter: a measurement is the change
                break;
        }
    }

    private Collector Create(Instrument instrument, string[] labelNames)
    {
        var name = PrometheusName(instrument);
        var help = instrument.Description ?? instrument.Name;
        return instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => _factory.CreateCounter(name, help, labelNames),
            Histogram<double> => _factory.CreateHistogram(name, help, labelNames, new HistogramConfiguration { Buckets = Buckets }),
            _ => _factory.CreateGauge(name, help, labelNames),
        };
    }

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

    /// <summary>Reads the observable gauges afresh and writes every series in the text format (0.0.4) to <paramref name="destination"/>.</summary>
    public async Task ScrapeAsync(Stream destination, CancellationToken cancellationToken)
    {
        lock (_scrape)
        {
            _observed.Clear();
            _listener.RecordObservableInstruments();
            // A label set that is no longer observed (the last terminal closed) disappears.
            foreach (var ((instrument, _), collector) in _collectors)
            {
                if (instrument.IsObservable && collector is PrometheusGauge gauge)
                {
                    foreach (var values in gauge.GetAllLabelValues().ToArray())
                    {
                        if (!_observed.Contains((gauge, string.Join('\0', values))))
                        {
                            gauge.RemoveLabelled(values);
                        }
                    }
                }
            }
        }

        await _registry.CollectAndExportAsTextAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _gauges.Dispose();
    }
}
