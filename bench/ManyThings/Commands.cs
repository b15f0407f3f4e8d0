using System.Text.Json;
using Sandboxd.Bench.Live;

namespace Sandboxd.Bench.Many;

/// <summary>
/// Row 4: the agent's RSS after 1,000 and after 10,000 <c>run.command("true")</c> calls (<c>POST /run/command</c>, one
/// keep-alive connection, one at a time, each checked for exit_code 0), read once the agent is idle at each checkpoint.
/// </summary>
internal static class Commands
{
    public static async Task<int> RunAsync(Options options)
    {
        var agentPid = options.GetInt("agent-pid");
        var checkpoints = options.Get("checkpoints").Split(',').Select(int.Parse).Order().ToArray();
        using var api = new AgentApi(options.Get("url"), options.Get("token"), connections: 1);
        using var total = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        var ct = total.Token;
        var r = new ResultFile();
        await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        r.Put("rss_start_kb", Proc.StatusKb(agentPid, "VmRSS"));
        var done = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var checkpoint in checkpoints)
        {
            for (; done < checkpoint; done++)
            {
                var data = await api.PostAsync("/run/command", "{\"command\":\"true\"}", ct).ConfigureAwait(false);
                if (!data.TryGetProperty("exit_code", out var code) || code.ValueKind != JsonValueKind.Number || code.GetInt32() != 0)
                {
                    throw new InvalidOperationException($"command {done + 1}: unexpected answer {data}");
                }
            }

            clock.Stop();
            var elapsed = clock.Elapsed.TotalSeconds;
            await Probe.WaitIdleAsync(agentPid, TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            r.Put($"rss_after_{checkpoint}_kb", Proc.StatusKb(agentPid, "VmRSS"));
            r.Put($"fds_after_{checkpoint}", Proc.FdCount(agentPid));
            r.Put($"threads_after_{checkpoint}", Directory.GetDirectories($"/proc/{agentPid}/task").Length);
            Console.WriteLine($"   commands: {checkpoint} done ({checkpoint / elapsed:F0}/s so far), agent VmRSS {Proc.StatusKb(agentPid, "VmRSS") / 1024.0:F1} MB");
            clock.Start();
        }

        r.Put("rss_hwm_kb", Proc.StatusKb(agentPid, "VmHWM"));
        r.Put("checkpoints", string.Join(",", checkpoints));
        await r.WriteAsync(options.Get("out"), ct).ConfigureAwait(false);
        return 0;
    }
}
