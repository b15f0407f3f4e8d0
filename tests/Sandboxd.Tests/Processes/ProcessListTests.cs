using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Processes;

public sealed class ProcessListTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// The list's row of <c>sleep ARGUMENT</c>, once it is there (and, with <paramref name="resident"/>, once the kernel
    /// counts resident pages for it: right after its exec a process can still read 0 in /proc/PID/stat — the kernel's
    /// RSS counters are per-CPU and summed lazily; a fresh-clone run under stress-ng saw rss_bytes 0).
    /// </summary>
    private async Task<JsonElement?> FindAsync(string prefix, string argument, bool resident = false)
    {
        return await Eventually.UntilAsync<JsonElement?>(async () =>
        {
            var list = await Agent.Client.GetAsync(prefix + "/processes", Ct);
            list.ShouldHaveStatus(200);
            foreach (var p in list.Data.GetProperty("processes").EnumerateArray())
            {
                var cmdline = p.GetProperty("cmdline").EnumerateArray().Select(a => a.GetString()).ToList();
                if (cmdline.Count == 2 && cmdline[0]!.EndsWith("sleep", StringComparison.Ordinal) && cmdline[1] == argument &&
                    (!resident || p.GetProperty("rss_bytes").GetInt64() > 0))
                {
                    return (JsonElement?)p.Clone();
                }
            }

            return null;
        }, p => p is not null, TimeSpan.FromSeconds(20), $"sleep {argument} in {prefix}/processes", Ct);
    }

    private Task<ApiResponse> SignalAsync(string prefix, int pid, string body) =>
        Agent.Client.PostJsonAsync($"{prefix}/processes/{pid}/signal", body, Ct);

    [Fact(Timeout = 90_000)]
    public async Task The_list_shows_who_started_a_process_and_signals_stay_within_the_sandbox()
    {
        var argument = "4" + Random.Shared.Next(10000, 99999);
        (await Agent.Client.PostJsonAsync("/run/command", $$"""{"command":"exec sleep {{argument}}","background":true}""", Ct)).ShouldHaveStatus(200);
        var main = (await FindAsync("", argument, resident: true))!.Value;
        var pid = main.GetProperty("pid").GetInt32();

        main.GetProperty("started_by_kind").GetString().Should().Be("command");
        main.GetProperty("started_by").GetString().Should().StartWith("cmd_");
        main.GetProperty("state").GetString().Should().BeOneOf("sleeping", "running");
        main.GetProperty("rss_bytes").GetInt64().Should().BeGreaterThan(0);
        main.GetProperty("user").GetString().Should().NotBeNullOrEmpty();
        DateTime.Parse(main.GetProperty("started_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime()
            .Should().BeCloseTo(DateTime.UtcNow, TimeSpan.FromMinutes(2));

        // A child sandbox sees only its own processes and cannot signal its parent's.
        var child = await Agent.Client.PostJsonAsync("/sandboxes", "{}", Ct);
        child.Code.Should().BeOneOf([200, 201], child.Describe());
        var sub = "/s/" + child.Json.GetProperty("subdomain").GetString();
        var childArgument = "5" + Random.Shared.Next(10000, 99999);
        (await Agent.Client.PostJsonAsync(sub + "/run/command", $$"""{"command":"exec sleep {{childArgument}}","background":true}""", Ct)).ShouldHaveStatus(200);
        var inChild = (await FindAsync(sub, childArgument))!.Value;
        var childList = await Agent.Client.GetAsync(sub + "/processes", Ct);

        childList.Data.GetProperty("processes").EnumerateArray().Should().NotContain(p => p.GetProperty("pid").GetInt32() == pid);
        (await SignalAsync(sub, pid, """{"signal":"KILL"}""")).ShouldBeError(404);
        (await SignalAsync(sub, pid, """{"signal":"KILL","group":true}""")).ShouldBeError(404);
        ProcFs.IsAlive(pid).Should().BeTrue("a child sandbox cannot signal its parent's process");
        (await SignalAsync("", Agent.Pid, """{"signal":"TERM"}""")).ShouldBeError(404);
        (await SignalAsync("", Environment.ProcessId, """{"signal":"TERM"}""")).ShouldBeError(404);
        (await SignalAsync("", 1, """{"signal":"TERM"}""")).ShouldBeError(404);
        (await SignalAsync("", pid, """{"signal":"NOPE"}""")).ShouldBeError(400);

        var sent = await SignalAsync("", pid, """{"signal":"SIGTERM"}""");
        var sentChild = await SignalAsync(sub, inChild.GetProperty("pid").GetInt32(), """{"signal":"INT","group":true}""");

        sent.ShouldHaveStatus(200);
        sent.Data.GetProperty("signal").GetString().Should().Be("SIGTERM");
        sentChild.ShouldHaveStatus(200);
        await Eventually.UntilAsync(() => ProcFs.IsAlive(pid), alive => !alive, TimeSpan.FromSeconds(20), "the signalled process to end", Ct);
        await Eventually.UntilAsync(() => ProcFs.IsAlive(inChild.GetProperty("pid").GetInt32()), alive => !alive, TimeSpan.FromSeconds(20), "the child sandbox's process to end", Ct);
    }
}
