using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Servers;

public sealed class ServerPersistenceTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(40);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task After_the_agent_is_SIGKILLed_a_new_agent_on_the_same_state_dir_brings_the_server_back_and_keeps_a_stopped_one_stopped()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-persist-").FullName;
        var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
        AgentProcess? second = null;
        var oldPgid = 0;
        try
        {
            var live = Slug("comeback");
            var parked = Slug("parked");
            await StartAsync(first.Client, new JsonObject { ["slug"] = live, ["start"] = PythonHttp, ["stop_timeout_ms"] = 2000 }, Ct);
            await StartAsync(first.Client, new JsonObject { ["slug"] = parked, ["start"] = "exec sleep 300", ["stop_timeout_ms"] = 1000 }, Ct);
            var before = await WaitForStatusAsync(first.Client, live, "ready", Long, Ct);
            await WaitForStatusAsync(first.Client, parked, "running", Long, Ct);
            (await first.Client.PostJsonAsync($"/servers/{parked}/stop", "{}", Ct)).ShouldHaveStatus(200);
            var oldPid = before.GetProperty("pid").GetInt32();
            ProcFs.TryRead(oldPid, out var stat).Should().BeTrue();
            oldPgid = stat.ProcessGroup;

            Posix.Kill(first.Pid, Posix.SIGKILL).Should().BeTrue();
            await Eventually.UntilAsync(() => first.HasExited, Long, "the agent to die", Ct);

            second = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
            var after = await WaitForStatusAsync(second.Client, live, "ready", Long, Ct);
            after.GetProperty("pid").GetInt32().Should().NotBe(oldPid);
            await Eventually.UntilAsync(() => LiveGroup(oldPgid).Count, n => n == 0, Long, "the old process group to be gone", Ct);
            Status(await GetAsync(second.Client, parked, Ct)).Should().Be("stopped", "a stopped server stays stopped across a restart");
            var ready = await second.Anonymous.GetAsync("/ready", Ct);
            ready.Json.GetProperty("servers").EnumerateArray().Select(s => s.GetProperty("slug").GetString()).Should().Contain([live, parked]);
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            try
            {
                await first.DisposeAsync();
            }
            catch (InvalidOperationException)
            {
                // It was SIGKILLed on purpose, so its exit code is not 0.
            }

            foreach (var p in oldPgid > 0 ? LiveGroup(oldPgid) : [])
            {
                Posix.Kill(p.Pid, Posix.SIGKILL);
            }

            Directory.Delete(stateDir, recursive: true);
        }
    }
}
