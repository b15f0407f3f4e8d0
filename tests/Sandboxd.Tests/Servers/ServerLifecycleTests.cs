using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Servers;

public sealed class ServerLifecycleTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_server_goes_through_installing_starting_running_and_ready_in_that_order()
    {
        var slug = Slug("order");
        var first = await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug,
            ["install"] = "echo install >> order.txt; sleep 0.3",
            ["start"] = "echo start >> order.txt; sleep 0.5; " + PythonHttp,
            ["restart_delay_ms"] = 250,
            ["stop_timeout_ms"] = 3000,
        }, Ct);
        Status(first).Should().Be("installing");
        first.GetProperty("restart_delay").GetInt64().Should().Be(250_000_000L, "restart_delay is reported in nanoseconds");
        first.GetProperty("stop_timeout").GetInt64().Should().Be(3_000_000_000L, "stop_timeout is reported in nanoseconds");

        var seen = new List<string> { "installing" };
        var last = first;
        await Eventually.UntilAsync(async () =>
        {
            last = await GetAsync(Client, slug, Ct);
            var status = Status(last);
            if (seen[^1] != status)
            {
                seen.Add(status);
            }

            return status;
        }, s => s is "ready" or "failed", Long, "ready", Ct);

        // Agents of other test classes allocate ports from 3000 up at the same moments: when one of them took this
        // server's preallocated port first, the server fails to listen and the agent starts it again on another port
        // (ServerSupervisor.Run, MaxPortCollisions) — running → starting once per collision, each one said in the logs.
        var logs = await LogsAsync(Client, slug, null, Ct);
        var collisions = System.Text.RegularExpressions.Regex.Count(logs, "was taken by another process before the server listened");
        var order = new[] { "installing", "starting", "running", "ready" };
        var steps = seen.Select(s => Array.IndexOf(order, s)).ToList();
        seen.Should().OnlyContain(s => order.Contains(s), "only these states are expected; the server: {0}; its logs: {1}", last.ToString(), logs);
        steps.Zip(steps.Skip(1)).Count(p => p.Second < p.First).Should().BeLessThanOrEqualTo(collisions,
            $"statuses go forward except for a start again after a port collision; they went {string.Join("→", seen)}; logs: {logs}");
        steps.Zip(steps.Skip(1)).Where(p => p.Second < p.First).All(p => p.First == 2 && p.Second == 1).Should().BeTrue(
            $"a collision takes a running server back to starting, nothing else goes back; statuses went {string.Join("→", seen)}");
        seen[0].Should().Be("installing");
        seen[^1].Should().Be("ready");
        seen.Should().Contain("running");
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "order.txt"), Ct)).Should().Be(
            "install\n" + string.Concat(Enumerable.Repeat("start\n", collisions + 1)), "install runs before start (and once only)");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_preallocated_PORT_is_in_the_environment_and_the_detected_port_and_url_match_it()
    {
        var slug = Slug("port");
        var requested = FreePort();
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "echo PORT=$PORT; " + PythonHttp, ["port"] = requested }, Ct);

        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        var port = ready.GetProperty("port").GetInt32();
        port.Should().BeGreaterThanOrEqualTo(requested);
        if (ready.TryGetProperty("requested_port", out var rp))
        {
            rp.GetInt32().Should().Be(port);
        }

        ready.GetProperty("url").GetString().Should().Be($"http://localhost:{port}");
        (await LogsAsync(Client, slug, "stdout", Ct)).Should().Contain($"PORT={port}");
        ready.GetProperty("pid").GetInt32().Should().BeGreaterThan(0);
        using var http = new HttpClient();
        (await http.GetAsync($"http://127.0.0.1:{port}/", Ct)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldHaveStatus(204);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_strict_port_server_that_crashed_after_serving_comes_back_on_its_port_despite_time_wait()
    {
        // The program closes each connection first (HTTP/1.0), which leaves TIME_WAIT sockets on its port. Servers
        // rebind over those (SO_REUSEADDR); the agent's own "is the port free" check must too, or a strict_port
        // server fails its restart with "port in use" (and a non-strict one silently moves to another port).
        var slug = Slug("timewait");
        var port = FreePort();
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = PythonHttp, ["port"] = port, ["strict_port"] = true,
            ["restart_policy"] = "always", ["restart_delay_ms"] = 100, ["stop_timeout_ms"] = 2000,
        }, Ct);
        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        ready.GetProperty("port").GetInt32().Should().Be(port);
        var first = ready.GetProperty("pid").GetInt32();
        for (var i = 0; i < 5; i++)
        {
            // Read to the end before closing: the server's FIN comes first, so the TIME_WAIT is on its side. (An
            // HttpClient disposed after the answer raced the server's close, and under load often closed first: the
            // TIME_WAIT was then the client's and the precondition below never came.)
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port, Ct);
            var stream = tcp.GetStream();
            await stream.WriteAsync("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray(), Ct);
            using var answer = new MemoryStream();
            await stream.CopyToAsync(answer, Ct).WaitAsync(Long, Ct);
            System.Text.Encoding.ASCII.GetString(answer.ToArray()).Should().StartWith("HTTP/1.0 200");
        }

        await Eventually.UntilAsync(() => File.ReadAllText("/proc/net/tcp") + File.ReadAllText("/proc/net/tcp6"),
            t => t.Split('\n').Any(l => l.Contains($":{port:X4} ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var local, _, "06", ..] && local.EndsWith($":{port:X4}", StringComparison.Ordinal)),
            Long, $"a TIME_WAIT socket on port {port}", Ct);
        Posix.Kill(first, Posix.SIGKILL);

        var back = await Eventually.UntilAsync(() => GetAsync(Client, slug, Ct),
            s => Status(s) is "failed" || (Status(s) is "ready" && s.GetProperty("pid").GetInt32() != first), Long, "the restarted server", Ct);
        Status(back).Should().Be("ready", back.TryGetProperty("failure_reason", out var why) ? why.GetString() : "");
        back.GetProperty("port").GetInt32().Should().Be(port);
        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldHaveStatus(204);
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_requested_port_PORT_is_the_first_free_port_from_3000()
    {
        var slug = Slug("p3000");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "echo PORT=$PORT; exec sleep 300", ["stop_timeout_ms"] = 1000 }, Ct);
        var logs = await Eventually.UntilAsync(() => LogsAsync(Client, slug, "stdout", Ct), l => l.Contains("PORT="), Long, "PORT line", Ct);
        int.Parse(logs.Split("PORT=")[1].Trim().Split('\n')[0]).Should().BeGreaterThanOrEqualTo(3000);
        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldHaveStatus(204);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_failing_install_marks_the_server_failed_with_the_exit_code_and_keeps_the_install_output()
    {
        var slug = Slug("badinstall");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["install"] = "echo install-said-this; echo install-err >&2; exit 7", ["start"] = "touch started.txt; exec sleep 300",
        }, Ct);

        var failed = await WaitForStatusAsync(Client, slug, "failed", Long, Ct);
        failed.GetProperty("failure_reason").GetString().Should().Contain("7");
        var logs = await LogsAsync(Client, slug, null, Ct);
        logs.Should().Contain("install-said-this").And.Contain("install-err");
        File.Exists(Path.Combine(Agent.Root, "started.txt")).Should().BeFalse("start must not run after a failed install");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_policy_never_leaves_a_server_that_exits_1_failed()
    {
        var slug = Slug("never");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "exit 1", ["restart_policy"] = "never", ["restart_delay_ms"] = 100 }, Ct);
        var failed = await WaitForStatusAsync(Client, slug, "failed", Long, Ct);
        Number(failed, "restart_count").Should().BeOneOf(0, -1);
        failed.GetProperty("exit_code").GetInt32().Should().Be(1);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_policy_on_failure_restarts_after_exit_1()
    {
        var slug = Slug("onfail1");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = "echo run >> onfail.txt; exit 1", ["restart_policy"] = "on-failure", ["restart_delay_ms"] = 100,
        }, Ct);
        await WaitAsync(Client, slug, s => Number(s, "restart_count") >= 2, Long, "two restarts", Ct);
        (await Client.PostJsonAsync($"/servers/{slug}/stop", "{}", Ct)).ShouldHaveStatus(200);
        (await GetAsync(Client, slug, Ct)).GetProperty("status").GetString().Should().Be("stopped");
        (await File.ReadAllLinesAsync(Path.Combine(Agent.Root, "onfail.txt"), Ct)).Length.Should().BeGreaterThanOrEqualTo(3);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_policy_on_failure_leaves_a_server_that_exits_0_stopped()
    {
        var slug = Slug("onfail0");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "exit 0", ["restart_policy"] = "on-failure", ["restart_delay_ms"] = 100 }, Ct);
        var stopped = await WaitForStatusAsync(Client, slug, "stopped", Long, Ct);
        Number(stopped, "restart_count").Should().BeOneOf(0, -1);
        stopped.GetProperty("exit_code").GetInt32().Should().Be(0);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_policy_always_restarts_a_server_that_exits_0()
    {
        var slug = Slug("always");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "exit 0", ["restart_policy"] = "always", ["restart_delay_ms"] = 100 }, Ct);
        await WaitAsync(Client, slug, s => Number(s, "restart_count") >= 2, Long, "two restarts", Ct);
        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldHaveStatus(204);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_crash_loop_beyond_max_restarts_fails_with_a_crash_loop_reason()
    {
        var slug = Slug("loop");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = "exit 3", ["restart_policy"] = "always", ["max_restarts"] = 2, ["restart_delay_ms"] = 50,
        }, Ct);
        var failed = await WaitForStatusAsync(Client, slug, "failed", Long, Ct);
        Number(failed, "restart_count").Should().Be(2);
        failed.GetProperty("failure_reason").GetString().Should().Contain("crash loop");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_health_check_that_never_passes_keeps_the_server_not_ready_and_counts_failures()
    {
        var slug = Slug("sick");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = Python500, ["stop_timeout_ms"] = 2000,
            ["health_check"] = new JsonObject { ["path"] = "/", ["interval_ms"] = 150, ["timeout_ms"] = 1000, ["delay_ms"] = 0 },
        }, Ct);
        var sick = await WaitAsync(Client, slug,
            s => s.TryGetProperty("health_status", out var h) && h.GetProperty("consecutive_failures").GetInt32() >= 3, Long, "3 failed checks", Ct);
        Status(sick).Should().NotBe("ready");
        sick.GetProperty("healthy").GetBoolean().Should().BeFalse();
        sick.GetProperty("port").GetInt32().Should().BeGreaterThan(0);
        var health = sick.GetProperty("health_status");
        if (health.TryGetProperty("last_status", out var last) && last.ValueKind == JsonValueKind.Number)
        {
            last.GetInt32().Should().Be(500);
        }

        var later = await WaitAsync(Client, slug,
            s => s.GetProperty("health_status").GetProperty("consecutive_failures").GetInt32() > health.GetProperty("consecutive_failures").GetInt32(),
            Long, "the failure count to grow", Ct);
        Status(later).Should().NotBe("ready");
        var ready = await Client.GetAsync("/ready", Ct);
        ready.Json.GetProperty("servers").EnumerateArray().Single(s => s.GetProperty("slug").GetString() == slug)
            .GetProperty("status").GetString().Should().NotBe("ready");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Stopping_a_server_that_ignores_SIGTERM_kills_it_after_stop_timeout_and_answers_once_the_group_is_gone()
    {
        var slug = Slug("stubborn");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = "trap '' TERM; sleep 300 & sleep 301 & wait", ["stop_timeout_ms"] = 1500,
        }, Ct);
        var running = await WaitForStatusAsync(Client, slug, "running", Long, Ct);
        var pid = running.GetProperty("pid").GetInt32();
        ProcFs.TryRead(pid, out var stat).Should().BeTrue();
        var pgid = stat.ProcessGroup;
        await Eventually.UntilAsync(() => LiveGroup(pgid).Count, n => n >= 3, Long, "shell and both sleeps", Ct);

        var watch = Stopwatch.StartNew();
        var stop = await Client.PostJsonAsync($"/servers/{slug}/stop", "{}", Ct);
        watch.Stop();

        stop.ShouldHaveStatus(200);
        stop.Data.GetProperty("slug").GetString().Should().Be(slug);
        LiveGroup(pgid).Should().BeEmpty("stop answers only after the whole process group is gone");
        watch.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(1300), "SIGTERM is ignored, so SIGKILL comes after stop_timeout_ms");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        Status(await GetAsync(Client, slug, Ct)).Should().Be("stopped");
        (await Client.PostJsonAsync($"/servers/{slug}/stop", "{}", Ct)).ShouldHaveStatus(200);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task No_child_a_server_forked_survives_its_stop()
    {
        var slug = Slug("forker");
        var pidFile = Path.Combine(Agent.Root, slug + ".pids");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug,
            ["start"] = $"sleep 300 & echo $! >> {pidFile}; (sleep 301 & echo $! >> {pidFile}) ; sh -c 'sleep 302 & echo $! >> {pidFile}; wait' & exec sleep 303",
            ["stop_timeout_ms"] = 2000,
        }, Ct);
        var running = await WaitForStatusAsync(Client, slug, "running", Long, Ct);
        var pids = await Eventually.UntilAsync(
            () => File.Exists(pidFile) ? ProcFs.ParsePids(File.ReadAllText(pidFile)) : [], p => p.Count == 3, Long, "three child pids", Ct);
        pids.Should().OnlyContain(p => ProcFs.IsAlive(p));

        (await Client.PostJsonAsync($"/servers/{slug}/stop", "{}", Ct)).ShouldHaveStatus(200);

        pids.Append(running.GetProperty("pid").GetInt32()).Where(ProcFs.IsAlive).Should().BeEmpty("every forked child dies with the server");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Restarts_stops_starts_and_deletes_of_one_server_at_once_leave_no_run_nothing_can_stop()
    {
        // Each run takes 0.3 s to stop, so the operations below pile up on one run. Unserialised, two restarts both
        // awaited it and then each launched a run, the second disposing the first's cancellation: a run no stop or
        // delete could end. Runs are found by a marker in their shell's command line.
        var slug = Slug("busy");
        var marker = "sbxd-busy-" + slug;
        var body = new JsonObject
        {
            ["slug"] = slug, ["start"] = $"trap 'sleep 0.3; exit 0' TERM; : {marker}; while :; do sleep 0.1; done", ["stop_timeout_ms"] = 5000,
        };
        await StartAsync(Client, body, Ct);
        await WaitForStatusAsync(Client, slug, "running", Long, Ct);

        Task<ApiResponse> Restart() => Client.PostJsonAsync($"/servers/{slug}/restart", "{}", Ct);
        for (var round = 0; round < 3; round++)
        {
            var answers = await Task.WhenAll(Restart(), Restart(), Restart(), Client.PostJsonAsync("/servers", body.ToJsonString(), Ct));
            answers.Select(a => a.Code).Should().OnlyContain(c => c == 200 || c == 201, string.Join("\n", answers.Select(a => a.Describe())));
        }

        await Eventually.UntilAsync(() => RunsOf(marker).Count, n => n == 1, Long, "exactly one run after the storm", Ct);
        (await Client.PostJsonAsync($"/servers/{slug}/stop", "{}", Ct)).ShouldHaveStatus(200);
        RunsOf(marker).Should().BeEmpty("a stop after the storm ends the one run left");
        Status(await GetAsync(Client, slug, Ct)).Should().Be("stopped");

        // Delete among restarts and a start-over: whatever order they land in, after a final delete nothing runs.
        await StartAsync(Client, body, Ct);
        await WaitForStatusAsync(Client, slug, "running", Long, Ct);
        var mixed = await Task.WhenAll(Restart(), Client.DeleteAsync($"/servers/{slug}", Ct), Restart(), Client.PostJsonAsync("/servers", body.ToJsonString(), Ct));
        mixed.Select(a => a.Code).Should().OnlyContain(c => c == 200 || c == 201 || c == 204 || c == 404, string.Join("\n", mixed.Select(a => a.Describe())));
        var last = await Client.DeleteAsync($"/servers/{slug}", Ct);
        last.Code.Should().BeOneOf([204, 404], last.Describe());
        (await Client.GetAsync($"/servers/{slug}", Ct)).ShouldBeError(404);
        RunsOf(marker).Should().BeEmpty("a deleted server leaves no run behind");
    }

    /// <summary>Live processes whose command line holds <paramref name="marker"/>.</summary>
    private static List<int> RunsOf(string marker) =>
        [.. ProcFs.All().Where(p => p.State is not ('Z' or 'X')).Select(p => p.Pid).Where(pid =>
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/cmdline").Contains(marker, StringComparison.Ordinal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false; // gone meanwhile
            }
        })];

    [Fact(Timeout = 30_000)]
    public async Task A_strict_port_that_is_already_taken_is_a_409()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var response = await Client.PostJsonAsync("/servers", new JsonObject
        {
            ["slug"] = Slug("strict"), ["start"] = "exec sleep 300", ["port"] = port, ["strict_port"] = true,
        }.ToJsonString(), Ct);

        response.ShouldBeError(409);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_non_strict_port_that_is_taken_moves_PORT_to_a_free_one()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var slug = Slug("nonstrict");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = PythonHttp, ["port"] = port }, Ct);
        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        ready.GetProperty("port").GetInt32().Should().NotBe(port).And.BeGreaterThan(port);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Logs_are_kept_per_stream_and_combined()
    {
        var slug = Slug("logs");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = "echo to-out; echo to-err >&2; echo more-out; exec sleep 300", ["stop_timeout_ms"] = 1000,
        }, Ct);
        await Eventually.UntilAsync(() => LogsAsync(Client, slug, null, Ct), l => l.Contains("more-out") && l.Contains("to-err"), Long, "logs", Ct);

        (await LogsAsync(Client, slug, "stdout", Ct)).Should().Be("to-out\nmore-out\n");
        (await LogsAsync(Client, slug, "stderr", Ct)).Should().Be("to-err\n");
        var combined = await Client.GetAsync($"/servers/{slug}/logs?stream=combined", Ct);
        combined.Data.GetProperty("stream").GetString().Should().Be("combined");
        combined.Data.GetProperty("slug").GetString().Should().Be(slug);
        combined.Data.GetProperty("logs").GetString().Should().Contain("to-out").And.Contain("to-err").And.Contain("more-out");
        (await Client.GetAsync($"/servers/{slug}/logs?stream=bogus", Ct)).ShouldBeError(400);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Logs_are_bounded_to_a_one_mebibyte_tail()
    {
        var slug = Slug("biglog");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug, ["start"] = "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo THE-END; exec sleep 300", ["stop_timeout_ms"] = 1000,
        }, Ct);
        var logs = await Eventually.UntilAsync(() => LogsAsync(Client, slug, "stdout", Ct), l => l.Contains("THE-END"), Long, "the end marker", Ct);
        logs.Length.Should().BeLessThanOrEqualTo(1024 * 1024).And.BeGreaterThan(512 * 1024);
        logs.Should().EndWith("THE-END\n");
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Patch_status_sets_a_valid_status_and_rejects_an_invalid_one()
    {
        var slug = Slug("patch");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = "exec sleep 300", ["stop_timeout_ms"] = 1000 }, Ct);

        var ok = await Client.SendAsync(HttpMethod.Patch, $"/servers/{slug}/status", """{"status":"ready"}""", Ct);
        ok.ShouldHaveStatus(200);
        ok.Data.GetProperty("slug").GetString().Should().Be(slug);
        ok.Data.GetProperty("status").GetString().Should().Be("ready");
        Status(await GetAsync(Client, slug, Ct)).Should().Be("ready");

        (await Client.SendAsync(HttpMethod.Patch, $"/servers/{slug}/status", """{"status":"sleepy"}""", Ct)).ShouldBeError(400);
        (await Client.SendAsync(HttpMethod.Patch, "/servers/no-such-server/status", """{"status":"ready"}""", Ct)).ShouldBeError(404);
        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Delete_forgets_the_server_and_it_answers_404_afterwards_while_ready_listed_it_before()
    {
        var slug = Slug("gone");
        await StartAsync(Client, new JsonObject { ["slug"] = slug, ["start"] = PythonHttp }, Ct);
        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        var pid = ready.GetProperty("pid").GetInt32();

        var readiness = await Agent.Anonymous.GetAsync("/ready", Ct);
        readiness.ShouldHaveStatus(200);
        var listed = readiness.Json.GetProperty("servers").EnumerateArray().Single(s => s.GetProperty("slug").GetString() == slug);
        listed.GetProperty("status").GetString().Should().Be("ready");
        listed.GetProperty("port").GetInt32().Should().Be(ready.GetProperty("port").GetInt32());
        (await Client.GetAsync("/servers", Ct)).Data.GetProperty("servers").EnumerateArray()
            .Select(s => s.GetProperty("slug").GetString()).Should().Contain(slug);

        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldHaveStatus(204);

        ProcFs.IsAlive(pid).Should().BeFalse();
        (await Client.GetAsync($"/servers/{slug}", Ct)).ShouldBeError(404);
        (await Client.DeleteAsync($"/servers/{slug}", Ct)).ShouldBeError(404);
        (await Agent.Anonymous.GetAsync("/ready", Ct)).Json.GetProperty("servers").EnumerateArray()
            .Select(s => s.GetProperty("slug").GetString()).Should().NotContain(slug);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_invalid_restart_policy_is_a_400()
    {
        (await Client.PostJsonAsync("/servers", new JsonObject
        {
            ["slug"] = Slug("badpolicy"), ["start"] = "true", ["restart_policy"] = "sometimes",
        }.ToJsonString(), Ct)).ShouldBeError(400);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_server_whose_preallocated_port_is_taken_before_it_listens_starts_again_on_another_port()
    {
        // The start waits (after the agent chose its PORT) until the test has taken that port, then listens on it and
        // fails with EADDRINUSE: two starts racing for one port. restart_policy "never": still not the server's fault.
        var slug = Slug("collide");
        var portFile = Path.Combine(Agent.Root, slug + ".port");
        var go = Path.Combine(Agent.Root, slug + ".go");
        await StartAsync(Client, new JsonObject
        {
            ["slug"] = slug,
            ["start"] = $"echo $PORT > {portFile}; while [ ! -e {go} ]; do sleep 0.01; done; {PythonHttp}",
            ["restart_policy"] = "never",
            ["stop_timeout_ms"] = 2000,
        }, Ct);

        var first = await Eventually.UntilAsync(() => File.Exists(portFile) ? File.ReadAllText(portFile).Trim() : "", p => p.Length > 0, Long, "the first PORT", Ct);
        var taken = int.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        using var thief = new TcpListener(IPAddress.Loopback, taken);
        thief.Start();
        await File.WriteAllTextAsync(go, "", Ct);

        var ready = await WaitForStatusAsync(Client, slug, "ready", Long, Ct);
        var port = ready.GetProperty("port").GetInt32();
        port.Should().NotBe(taken);
        ready.GetProperty("restart_count").GetInt32().Should().Be(0, "a lost port is not a restart");
        (await LogsAsync(Client, slug, "stderr", Ct)).Should().Contain($"port {taken} was taken by another process");
        using (var http = new HttpClient())
        {
            (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/"), Ct)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        await Client.DeleteAsync($"/servers/{slug}", Ct);
    }
}
