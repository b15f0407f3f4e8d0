using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Reliability;

/// <summary>
/// kill -9 of the agent in the middle of file writes, session-token mints, server starts and background commands, then a
/// restart on the same state directory, several rounds in a row: every file written through the API holds a complete
/// version (the last acknowledged one or the one in flight), every state file parses, every token the client was given
/// still works, each server runs exactly once, and nothing of the killed agent is left running.
/// </summary>
public sealed partial class KillTests(ITestOutputHelper output)
{
    private const int Rounds = 6;
    private const int FilesPerRound = 4;
    private const int FileSize = 256 * 1024;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact(Timeout = 240_000)]
    public async Task Kill_9_during_writes_mints_and_server_starts_leaves_consistent_state_and_no_duplicates()
    {
        var ct = TestContext.Current.CancellationToken;
        var seed = Environment.GetEnvironmentVariable("RELIABILITY_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        var marker = "relkill" + Guid.NewGuid().ToString("N")[..10];
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-kill-").FullName;
        var data = Directory.CreateTempSubdirectory("sandboxd-kill-files-").FullName;
        var acknowledged = new ConcurrentDictionary<string, int>(); // file → last version whose write was answered
        var tokens = new ConcurrentBag<string>();                    // session tokens the client received
        var servers = new ConcurrentDictionary<string, bool>();      // slugs whose start was answered
        var figures = new List<string>();
        var leftoverTemps = 0;
        AgentProcess? agent = null;
        var clock = Stopwatch.StartNew();
        try
        {
            agent = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, ct);
            for (var round = 0; round < Rounds; round++)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var current = agent;
                var load = new[]
                {
                    WriteFilesAsync(current, data, round, acknowledged, stop.Token),
                    MintTokensAsync(current, tokens, stop.Token),
                    StartServersAsync(current, marker, round, servers, stop.Token),
                    StartCommandsAsync(current, marker, stop.Token),
                };
                await Task.Delay(200 + random.Next(800), ct);
                Posix.Kill(current.Pid, Posix.SIGKILL).Should().BeTrue();
                await Eventually.UntilAsync(() => current.HasExited, Bound, "the killed agent to be gone", ct);
                await stop.CancelAsync();
                await Task.WhenAll(load.Select(t => t.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)));
                await DisposeKilledAsync(current);

                // Before the restart: what the dead agent left on disk.
                CheckFiles(data, acknowledged, ref leftoverTemps);
                var (stateFiles, temps) = CheckStateFiles(stateDir);

                agent = null;
                agent = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir, PassAccessToken = true }, ct);
                temps.Where(File.Exists).Should().BeEmpty("the new agent sweeps the temp files the dead one left in the state directory");
                var restored = await WaitServersSettledAsync(agent, ct);
                var duplicates = Duplicates(marker);
                duplicates.Should().BeEmpty($"round {round}: no server runs twice after the restart (seed {seed})");
                OrphanCommands(marker).Should().BeEmpty($"round {round}: no command of the killed agent survives the restart (seed {seed})");
                foreach (var slug in servers.Keys)
                {
                    restored.Should().Contain(slug, $"round {round}: a server whose start was acknowledged is restored");
                }

                await CheckTokensAsync(agent, tokens, round, ct);
                figures.Add($"round {round}: {stateFiles} state files, {servers.Count} servers, {tokens.Count} tokens, {acknowledged.Count} files");
            }

            await agent.StopAsync(ct);
            await Eventually.UntilAsync(() => ProcessesWith(marker).Count == 0, Bound, "no process of any round after the clean stop", ct);
        }
        finally
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            foreach (var pid in ProcessesWith(marker))
            {
                Posix.Kill(pid, Posix.SIGKILL);
            }

            Directory.Delete(stateDir, recursive: true);
            Directory.Delete(data, recursive: true);
        }

        Figures.Record("kill-9", $"{Rounds} rounds of kill -9 + restart in {clock.Elapsed.TotalSeconds:0.0} s (seed {seed}): {acknowledged.Values.Sum()} acknowledged file writes, " +
            $"{tokens.Count} tokens, {servers.Count} servers; 0 half-written files, 0 unparseable state files, 0 duplicate servers, 0 orphans", output);
        Figures.Record("kill-9", $"temp files left next to API-written files by killed writes (not swept; outside the state dir): {leftoverTemps}", output);
        foreach (var line in figures)
        {
            output.WriteLine(line);
        }
    }

    private static async Task WriteFilesAsync(AgentProcess agent, string data, int round, ConcurrentDictionary<string, int> acknowledged, CancellationToken ct)
    {
        // One writer per file, versions in order: the file must hold the last acknowledged version or the next one.
        await Task.WhenAll(Enumerable.Range(0, FilesPerRound).Select(async n =>
        {
            var path = Path.Combine(data, $"file-{n}.txt");
            var client = agent.Client;
            while (!ct.IsCancellationRequested)
            {
                var version = acknowledged.GetValueOrDefault(path) + 1;
                var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["path"] = path, ["content"] = Content(version) });
                var response = await client.PostJsonAsync("/files", body, ct);
                response.Code.Should().BeOneOf([200, 201], response.Describe());
                acknowledged[path] = version;
            }
        }));
        _ = round;
    }

    /// <summary>Version N: a header naming N, then the same letter repeated, then a trailer; any cut or mix is detectable.</summary>
    private static string Content(int version)
    {
        var letter = (char)('a' + (version % 26));
        return $"version {version}\n" + new string(letter, FileSize) + $"\nend {version}\n";
    }

    private static void CheckFiles(string data, ConcurrentDictionary<string, int> acknowledged, ref int leftoverTemps)
    {
        foreach (var (path, version) in acknowledged)
        {
            var text = File.ReadAllText(path);
            var ok = text == Content(version) || text == Content(version + 1);
            ok.Should().BeTrue($"{path} holds version {version} (acknowledged) or {version + 1} (in flight), complete; it holds {text.Length} chars starting '{text[..Math.Min(20, text.Length)]}'");
        }

        leftoverTemps += Directory.GetFiles(data, ".*.tmp").Length;
        foreach (var temp in Directory.GetFiles(data, ".*.tmp"))
        {
            File.Delete(temp);
        }
    }

    /// <summary>Every file in the state directory parses as what it is; returns how many there are, and the temp files.</summary>
    private static (int Count, List<string> Temps) CheckStateFiles(string stateDir)
    {
        var files = Directory.GetFiles(stateDir);
        var temps = new List<string>();
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            var text = File.ReadAllText(file);
            switch (name)
            {
                case var _ when name.EndsWith(".json", StringComparison.Ordinal):
                    var parse = () => JsonDocument.Parse(text).Dispose();
                    parse.Should().NotThrow($"{name} is complete JSON: '{text[..Math.Min(200, text.Length)]}'");
                    break;
                case "lock":
                    text.Should().MatchRegex(@"^(\d+\n)?$", "the lock file holds the holder's pid");
                    break;
                case "children":
                    foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    {
                        line.Should().MatchRegex(@"^(\d+ \d+|mark [0-9a-f]+)$", "every ledger line is whole (a pid and its start time, or the run's mark)");
                    }

                    break;
                case "access-token":
                    text.Trim().Should().NotBeEmpty();
                    break;
                default:
                    (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal))
                        .Should().BeTrue($"{name} in the state directory is a state file or a temp file of an unfinished write");
                    temps.Add(file);
                    break;
            }
        }

        return (files.Length, temps);
    }

    private static async Task MintTokensAsync(AgentProcess agent, ConcurrentBag<string> tokens, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var response = await agent.Client.PostJsonAsync("/auth/session_tokens", "{\"description\":\"kill test\"}", ct);
            response.Code.Should().BeOneOf([200, 201], response.Describe());
            tokens.Add(response.Json.GetProperty("token").GetString()!);
        }
    }

    private static async Task StartServersAsync(AgentProcess agent, string marker, int round, ConcurrentDictionary<string, bool> servers, CancellationToken ct)
    {
        for (var n = 0; !ct.IsCancellationRequested && n < 4; n++)
        {
            var slug = $"srv-{round}-{n}";
            // The shell stays the server's process (two commands), and its argv carries the slug: `ps` finds every copy.
            var body = $"{{\"slug\":\"{slug}\",\"start\":\"sleep 600; : {marker}-server-{slug}-\",\"stop_timeout_ms\":1000}}";
            var response = await agent.Client.PostJsonAsync("/servers", body, ct);
            response.Code.Should().BeOneOf([200, 201], response.Describe());
            servers[slug] = true;
        }

        // Then restarts, which respawn while the agent may die.
        for (var n = 0; !ct.IsCancellationRequested; n = (n + 1) % 4)
        {
            var slug = $"srv-{round}-{n}";
            await agent.Client.PostJsonAsync($"/servers/{slug}/restart", "{}", ct);
        }
    }

    private static async Task StartCommandsAsync(AgentProcess agent, string marker, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var response = await agent.Client.PostJsonAsync("/run/command", $"{{\"command\":\"sleep 600; : {marker}-command\",\"background\":true}}", ct);
            response.Code.Should().Be(200, response.Describe());
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Waits until no server is starting or restarting; returns the slugs the agent knows.</summary>
    private static async Task<HashSet<string>> WaitServersSettledAsync(AgentProcess agent, CancellationToken ct)
    {
        var list = await Eventually.UntilAsync(
            async () => (await agent.Client.GetAsync("/servers", ct)).Data.GetProperty("servers").EnumerateArray()
                .Select(s => (Slug: s.GetProperty("slug").GetString()!, Status: s.GetProperty("status").GetString()!, Pid: s.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : 0))
                .ToList(),
            servers => servers.All(s => s.Status is "running" or "ready" or "stopped" or "failed" && (s.Status is not ("running" or "ready") || s.Pid > 0)),
            Bound, "the restored servers to settle", ct);
        return [.. list.Select(s => s.Slug)];
    }

    private static List<string> Duplicates(string marker) =>
        ProcessesWith(marker)
            .Select(pid => ServerOf().Match(CommandLine(pid)))
            .Where(m => m.Success)
            .GroupBy(m => m.Groups[1].Value)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key} ×{g.Count()}")
            .ToList();

    private static List<int> OrphanCommands(string marker) =>
        ProcessesWith(marker).Where(pid => CommandLine(pid).Contains(marker + "-command", StringComparison.Ordinal)).ToList();

    private static async Task CheckTokensAsync(AgentProcess agent, ConcurrentBag<string> tokens, int round, CancellationToken ct)
    {
        foreach (var token in tokens.OrderBy(_ => Random.Shared.Next()).Take(5))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/terminals");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await agent.Anonymous.SendAsync(request, ct);
            response.Code.Should().Be(200, $"round {round}: a session token the client was given survives the kill -9 ({response.Describe()})");
        }
    }

    /// <summary>Live (non-zombie) processes whose command line contains <paramref name="marker"/>, the shells of our commands and servers.</summary>
    private static List<int> ProcessesWith(string marker) =>
        ProcFs.All().Where(p => p.State is not ('Z' or 'X') && CommandLine(p.Pid).Contains(marker, StringComparison.Ordinal)).Select(p => p.Pid).ToList();

    private static string CommandLine(int pid)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/cmdline")).Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static async Task DisposeKilledAsync(AgentProcess agent)
    {
        try
        {
            await agent.DisposeAsync();
        }
        catch (InvalidOperationException)
        {
            // SIGKILLed on purpose: its exit code is not 0.
        }
    }

    [GeneratedRegex(@"-server-(srv-\d+-\d+)-")]
    private static partial Regex ServerOf();
}
