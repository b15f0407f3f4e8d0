using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Processes;

/// <summary>
/// Workload limits and the cause of death (issue 13 #10): <c>memory_mb</c> and <c>pids_max</c> on commands, terminals
/// and servers go through a cgroup of the child's own, in place from its first instruction; an exit is reported with
/// its <c>reason</c> (<c>exit</c>, <c>signal</c>, <c>oom</c>, <c>timeout</c>, <c>stopped</c>), never as a bare code.
/// Where no cgroup is writable the tests skip loudly; CI sets SANDBOXD_REQUIRE_CGROUPS=1 and runs them as root.
/// </summary>
public sealed class LimitsTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Holds about <paramref name="mb"/> MB in the shell itself (a command substitution is kept in memory).</summary>
    private static string Hog(int mb) => $"x=$(head -c {mb}000000 /dev/zero | tr '\\0' x); echo survived ${{#x}}";

    private async Task<JsonElement> LimitsAsync()
    {
        var info = await Agent.Client.GetAsync("/info", Ct);
        info.Code.Should().Be(200);
        return info.Data.GetProperty("limits");
    }

    private async Task RequireCgroupsAsync()
    {
        var limits = await LimitsAsync();
        if (limits.GetProperty("memory").GetBoolean() && limits.GetProperty("pids").GetBoolean())
        {
            return;
        }

        var why = $"SKIPPED LOUDLY: this agent cannot set cgroup limits here ({limits})";
        if (Environment.GetEnvironmentVariable("SANDBOXD_REQUIRE_CGROUPS") == "1")
        {
            Assert.Fail(why + ", and SANDBOXD_REQUIRE_CGROUPS=1 says it must");
        }

        Assert.Skip(why);
    }

    [Fact(Timeout = 30_000)]
    public async Task Info_says_which_cgroup_version_the_host_has_and_what_it_can_limit()
    {
        var limits = await LimitsAsync();
        var version = limits.GetProperty("cgroup");
        version.ValueKind.Should().BeOneOf(JsonValueKind.String, JsonValueKind.Null);
        var hostHasV1Memory = File.ReadAllText("/proc/self/mountinfo").Split('\n')
            .Any(l => l.Contains(" - cgroup ", StringComparison.Ordinal) && l.Split(' ')[^1].Split(',').Contains("memory"));
        if (hostHasV1Memory)
        {
            version.GetString().Should().Be("v1", "this host mounts the v1 memory controller");
        }

        if (!limits.GetProperty("memory").GetBoolean())
        {
            limits.GetProperty("reason").GetString().Should().NotBeNullOrEmpty("an agent that cannot limit says why");
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_command_over_its_memory_limit_is_reported_as_oom_killed_and_the_same_command_within_it_is_not()
    {
        await RequireCgroupsAsync();

        var killed = await Agent.Client.RunAsync(new RunCommandRequest(Hog(120), MemoryMb: 32), Ct);
        killed.ExitCode.Should().Be(137, killed.Stderr);
        killed.Reason.Should().Be("oom");
        killed.Signal.Should().Be("SIGKILL");
        killed.Stdout.Should().NotContain("survived");

        var within = await Agent.Client.RunAsync(new RunCommandRequest(Hog(120), MemoryMb: 1024), Ct);
        within.ExitCode.Should().Be(0, within.Stderr);
        within.Reason.Should().Be("exit");
        within.Stdout.Should().Be("survived 120000000\n");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_command_cannot_have_more_processes_than_pids_max()
    {
        await RequireCgroupsAsync();

        const string Forker = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait; echo done";
        var limited = await Agent.Client.RunAsync(new RunCommandRequest(Forker, PidsMax: 4), Ct);
        limited.Stderr.Should().MatchRegex("(?i)fork|resource temporarily unavailable", "the fifth process cannot be made");

        var roomy = await Agent.Client.RunAsync(new RunCommandRequest(Forker, PidsMax: 64), Ct);
        roomy.ExitCode.Should().Be(0);
        roomy.Stderr.Should().BeEmpty();
        roomy.Stdout.Should().Be("done\n");
    }

    [Fact(Timeout = 60_000)]
    public async Task The_limit_holds_from_the_first_instruction_and_its_group_is_removed_after_the_exit()
    {
        await RequireCgroupsAsync();
        var version = (await LimitsAsync()).GetProperty("cgroup").GetString();

        // The command reads its own group and its limit as its first action: it was created inside the group.
        var probe = version == "v1"
            ? "p=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup); echo $p; cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes"
            : "p=$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup); echo $p; cat /sys/fs/cgroup$p/memory.max";
        var result = await Agent.Client.RunAsync(new RunCommandRequest(probe, MemoryMb: 48), Ct);
        result.ExitCode.Should().Be(0, result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].Should().MatchRegex($"/sandboxd\\.{Agent.Pid}/w[0-9]+$");
        lines[1].Should().Be((48L * 1024 * 1024).ToString(CultureInfo.InvariantCulture));

        // Without limits a command stays in the agent's own group.
        var plain = await Agent.Client.RunAsync(probe.Split(';')[0] + "; echo $p", Ct);
        plain.Stdout.Should().NotContain("/sandboxd.");

        var dir = version == "v1" ? "/sys/fs/cgroup/memory" + lines[0] : "/sys/fs/cgroup" + lines[0];
        await Eventually.UntilAsync(() => Task.FromResult(Directory.Exists(dir)), exists => !exists, TimeSpan.FromSeconds(10),
            $"the command's group {dir} to be removed after it exited", Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Every_exit_says_why_it_ended()
    {
        var exited = await Agent.Client.RunAsync("exit 3", Ct);
        (exited.ExitCode, exited.Reason, exited.Signal).Should().Be((3, "exit", (string?)null));

        var signalled = await Agent.Client.RunAsync("kill -TERM $$", Ct);
        (signalled.ExitCode, signalled.Reason, signalled.Signal).Should().Be((143, "signal", "SIGTERM"));

        var timedOut = await Agent.Client.RunAsync(new RunCommandRequest("sleep 30", TimeoutMs: 300), Ct);
        timedOut.Reason.Should().Be("timeout");
        timedOut.TimedOut.Should().BeTrue();

        // An exec terminal's command record says it too.
        var created = await Agent.Client.PostJsonAsync("/terminals", "{}", Ct);
        var terminal = created.Data.GetProperty("id").GetString()!;
        var run = await Agent.Client.PostJsonAsync($"/terminals/{terminal}/execute", "{\"command\":\"kill -KILL $$\"}", Ct);
        run.Code.Should().Be(200, run.Text);
        run.Data.GetProperty("reason").GetString().Should().Be("signal");
        run.Data.GetProperty("signal").GetString().Should().Be("SIGKILL");
        await Agent.Client.DeleteAsync("/terminals/" + terminal, Ct);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_server_over_its_memory_limit_fails_as_oom_killed_and_a_stopped_one_says_stopped()
    {
        await RequireCgroupsAsync();

        var hog = Slug("hog");
        await StartAsync(Agent.Client, new JsonObject { ["slug"] = hog, ["start"] = Hog(120) + "; sleep 60", ["memory_mb"] = 32, ["restart_policy"] = "never" }, Ct);
        var failed = await WaitForStatusAsync(Agent.Client, hog, "failed", TimeSpan.FromSeconds(30), Ct);
        failed.GetProperty("exit_reason").GetString().Should().Be("oom");
        failed.GetProperty("failure_reason").GetString().Should().Contain("oom_killed");
        failed.GetProperty("memory_mb").GetInt64().Should().Be(32);
        await Agent.Client.DeleteAsync("/servers/" + hog, Ct);

        var calm = Slug("calm");
        await StartAsync(Agent.Client, new JsonObject { ["slug"] = calm, ["start"] = "exec sleep 60", ["pids_max"] = 16, ["stop_timeout_ms"] = 1000 }, Ct);
        await WaitForStatusAsync(Agent.Client, calm, "running", TimeSpan.FromSeconds(20), Ct);
        (await Agent.Client.PostJsonAsync($"/servers/{calm}/stop", "{}", Ct)).Code.Should().Be(200);
        var stopped = await WaitForStatusAsync(Agent.Client, calm, "stopped", TimeSpan.FromSeconds(20), Ct);
        stopped.GetProperty("exit_reason").GetString().Should().Be("stopped");
        stopped.GetProperty("pids_max").GetInt32().Should().Be(16);
        await Agent.Client.DeleteAsync("/servers/" + calm, Ct);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("{\"command\":\"true\",\"memory_mb\":1}", "memory_mb")]
    [InlineData("{\"command\":\"true\",\"memory_mb\":1.5}", "memory_mb")]
    [InlineData("{\"command\":\"true\",\"pids_max\":0}", "pids_max")]
    [InlineData("{\"command\":\"true\",\"pids_max\":99999999}", "pids_max")]
    public async Task Bad_limits_are_a_400_that_names_the_field(string body, string field)
    {
        var response = await Agent.Client.PostJsonAsync("/run/command", body, Ct);
        response.Code.Should().Be(400, response.Text);
        response.Text.Should().Contain(field);
        (await Agent.Client.RunAsync("echo alive", Ct)).Stdout.Should().Be("alive\n");
    }

    private static bool TryRmdir(string dir)
    {
        try
        {
            Directory.Delete(dir); // rmdir: a cgroup with no task left in it
            return true;
        }
        catch (IOException)
        {
            return !Directory.Exists(dir);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Without_a_group_of_its_own_a_command_killed_by_the_agents_own_memory_limit_is_still_called_oom()
    {
        // The agent in a container: the container's limit is the agent's own cgroup's. Made here with a v1 memory
        // group for the agent alone (root only), so the kernel's count of OOM kills is the only witness.
        var own = File.ReadAllLines("/proc/self/cgroup").Select(l => l.Split(':', 3)).FirstOrDefault(p => p.Length == 3 && p[1].Split(',').Contains("memory"));
        var parent = own is null ? null : "/sys/fs/cgroup/memory" + own[2];
        if (parent is null || !Directory.Exists(parent) || Environment.UserName != "root")
        {
            Assert.Skip("SKIPPED LOUDLY: needs root and a cgroup v1 memory hierarchy to put the agent in a limited group of its own.");
        }

        var group = Path.Combine(parent, "sandboxd-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(group);
        try
        {
            File.WriteAllText(Path.Combine(group, "memory.limit_in_bytes"), (256L * 1024 * 1024).ToString(CultureInfo.InvariantCulture));
            await using var agent = await AgentProcess.StartAsync(new AgentLaunch
            {
                Wrapper = ["/bin/sh", "-c", $"echo $$ > {group}/cgroup.procs && exec \"$0\" \"$@\""],
            }, Ct);

            var killed = await agent.Client.RunAsync(Hog(400), Ct);
            killed.ExitCode.Should().Be(137, killed.Stderr);
            killed.Reason.Should().Be("oom", "the agent's own group counted the kill");

            var user = await agent.Client.RunAsync("kill -KILL $$", Ct);
            user.Reason.Should().Be("signal", "a SIGKILL nobody's memory caused is not an OOM kill");
            (await agent.Client.RunAsync("echo alive", Ct)).Stdout.Should().Be("alive\n");
            await agent.StopAsync(Ct);
        }
        finally
        {
            await Eventually.UntilAsync(() => Task.FromResult(TryRmdir(group)), removed => removed, TimeSpan.FromSeconds(10), "the test's group to be removed", Ct);
        }
    }
}
