using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string ParserDir => Path.Combine(AgentBinary.RepoRoot, "tests", "metrics");

    /// <summary>Parses a scrape with the npm package parse-prometheus-text-format (tests/metrics), installing it on first use.</summary>
    private static async Task<JsonElement> ParseAsync(string scrape)
    {
        if (!Directory.Exists(Path.Combine(ParserDir, "node_modules", "parse-prometheus-text-format")))
        {
            var install = await RunAsync("npm", ["install", "--no-audit", "--no-fund"], null);
            if (install.Code != 0)
            {
                Assert.Skip($"SKIPPED LOUDLY: could not install the Prometheus parser (npm install in tests/metrics: {install.Stderr})");
            }
        }

        var parsed = await RunAsync("node", ["parse.mjs"], scrape);
        parsed.Code.Should().Be(0, parsed.Stderr);
        using var document = JsonDocument.Parse(parsed.Stdout);
        return document.RootElement.Clone();
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, string[] args, string? stdin)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args)
        {
            WorkingDirectory = ParserDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact(Timeout = 180_000)]
    public async Task The_metrics_scrape_needs_a_token_and_parses_as_Prometheus_text()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        (await agent.Client.RunAsync("echo hi", Ct)).ExitCode.Should().Be(0);
        (await agent.Client.RunAsync("exit 3", Ct)).ExitCode.Should().Be(3);
        await agent.Client.WriteFileAsync("m.txt", "x", Ct);
        using var put = await agent.Client.Http.PutAsync("/files/m.bin", new ByteArrayContent(new byte[4096]), Ct);
        (await agent.Client.PostJsonAsync("/run/command", """{"command":"sleep 30","background":true}""", Ct)).ShouldHaveStatus(200);
        (await agent.Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(agent.Root)}}}""", Ct)).Code.Should().BeOneOf(200, 201);

        (await agent.Anonymous.GetAsync("/metrics", Ct)).ShouldBeError(401);
        using var response = await agent.Client.Http.GetAsync("/metrics", Ct);
        var scrape = await response.Content.ReadAsStringAsync(Ct);

        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        scrape.Should().EndWith("\n");
        scrape.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Should().OnlyContain(l => System.Text.RegularExpressions.Regex.IsMatch(l,
            """^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? ([-+0-9.eE]+|[-+]Inf|NaN)$"""), "every sample line follows the text format");
        var families = (await ParseAsync(scrape)).EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);

        families.Should().ContainKeys("sandboxd_http_requests_total", "sandboxd_http_request_duration_seconds", "sandboxd_processes_started_total",
            "sandboxd_processes_exited_total", "sandboxd_files_streamed_bytes_total", "sandboxd_process_resident_memory_bytes", "sandboxd_process_open_fds",
            "sandboxd_dotnet_gc_heap_bytes", "sandboxd_processes_live");
        families["sandboxd_http_request_duration_seconds"].GetProperty("type").GetString().Should().Be("HISTOGRAM");
        families["sandboxd_http_request_duration_seconds"].GetProperty("metrics")[0].GetProperty("buckets").EnumerateObject().Select(b => b.Name)
            .Should().Contain(["0.001", "1", "+Inf"]);
        // The parser merges a histogram's label sets (it only knows `le`), so run.command's own count is read from the text.
        scrape.Should().Contain("sandboxd_http_request_duration_seconds_count{method=\"POST\",route=\"/run/command\"} 3\n");
        scrape.Should().Contain("sandboxd_http_request_duration_seconds_bucket{method=\"POST\",route=\"/run/command\",le=\"+Inf\"} 3\n");
        families["sandboxd_http_requests_total"].GetProperty("metrics").EnumerateArray()
            .Should().Contain(m => m.GetProperty("labels").GetProperty("route").GetString() == "/metrics" && m.GetProperty("labels").GetProperty("status").GetString() == "401");
        families["sandboxd_processes_exited_total"].GetProperty("metrics").EnumerateArray()
            .Should().Contain(m => m.GetProperty("labels").GetProperty("reason").GetString() == "failure" && m.GetProperty("labels").GetProperty("kind").GetString() == "command");
        families["sandboxd_processes_live"].GetProperty("metrics").EnumerateArray()
            .Should().Contain(m => m.GetProperty("labels").GetProperty("kind").GetString() == "command" && m.GetProperty("value").GetString() == "1");
        double.Parse(families["sandboxd_process_resident_memory_bytes"].GetProperty("metrics")[0].GetProperty("value").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            .Should().BeGreaterThan(1_000_000);
        families["sandboxd_watchers_open"].GetProperty("metrics")[0].GetProperty("value").GetString().Should().Be("1");
        families["sandboxd_http_requests_total"].GetProperty("type").GetString().Should().Be("COUNTER");
        families["sandboxd_files_streamed_bytes_total"].GetProperty("metrics").EnumerateArray()
            .Should().Contain(m => m.GetProperty("labels").GetProperty("direction").GetString() == "in" && m.GetProperty("value").GetString() == "4096");
    }

    [Fact(Timeout = 60_000)]
    public async Task With_metrics_public_the_scrape_needs_no_token()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.With("--metrics-public"), Ct);

        var response = await agent.Anonymous.GetAsync("/metrics", Ct);

        response.ShouldHaveStatus(200);
        response.Text.Should().Contain("# TYPE sandboxd_process_resident_memory_bytes gauge");
    }
}
