using System.Text.Json.Serialization;

namespace Sandboxd.Bench;

internal sealed record ResultRow(
    string Key, string Name, int Calls, double P50Ms, double P99Ms, double MeanMs, double MinMs, double MaxMs);

internal sealed record Ratios(double OursP50OverFloorP50, double SshP50OverOursP50);

internal sealed record Target(string Goal, bool Met);

internal sealed record ExecLatencyResult(
    string Benchmark, Dictionary<string, string> Machine, List<ResultRow> Results, Ratios Ratios, Target Target);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ExecLatencyResult))]
[JsonSerializable(typeof(string))]
internal sealed partial class ReportJson : JsonSerializerContext;
