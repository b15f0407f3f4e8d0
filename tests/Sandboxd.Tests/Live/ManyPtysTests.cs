using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>Many PTYs at once on one socket: each output on its own channel, all gone after delete.</summary>
[Collection(nameof(HeavyLiveCollection))]
public sealed class ManyPtysTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private const int Count = 100;

    [Fact(Timeout = 300_000)]
    public async Task One_hundred_concurrent_ptys_each_echo_on_their_own_channel_and_leave_no_process_after_delete()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = fixture.Client;
        await using var socket = await LiveSocket.ConnectAsync(fixture.Agent, ct);
        var ids = new string[Count];
        try
        {
            using var throttle = new SemaphoreSlim(10);
            await Task.WhenAll(Enumerable.Range(0, Count).Select(async i =>
            {
                await throttle.WaitAsync(ct);
                try
                {
                    // /bin/sh: the test is about the agent holding 100 PTYs, not about 100 interactive bash start-ups
                    // (a login user's ~/.bashrc, e.g. pyenv init, costs seconds of CPU each).
                    ids[i] = await LiveApi.CreatePtyAsync(client, ct, ",\"shell\":\"/bin/sh\"");
                }
                finally
                {
                    throttle.Release();
                }
            }));
            ids.Should().OnlyHaveUniqueItems();

            for (var i = 0; i < Count; i++)
            {
                await socket.SubscribeAsync("terminal:" + ids[i], ct);
                await socket.InputAsync(ids[i], $"echo pty-$((1000+{i})):$$\n", ct);
            }

            TestContext.Current.TestOutputHelper?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} created and typed into {Count} PTYs");
            await Eventually.UntilAsync(
                () => Enumerable.Range(0, Count).Where(i => !Regex.IsMatch(socket.Output("terminal:output", "terminal:" + ids[i]), $@"pty-{1000 + i}:\d+")).Select(i => ids[i]).ToList(),
                missing => missing.Count == 0, TimeSpan.FromSeconds(150), "every PTY's echo on its own channel", ct);
            TestContext.Current.TestOutputHelper?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} all outputs seen");

            var shells = new int[Count];
            for (var i = 0; i < Count; i++)
            {
                var text = socket.Output("terminal:output", "terminal:" + ids[i]);
                var match = Regex.Match(text, $@"pty-{1000 + i}:(\d+)");
                match.Success.Should().BeTrue(text);
                shells[i] = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                Regex.Matches(text, @"pty-(\d{4}):").Select(m => m.Groups[1].Value).Should().OnlyContain(v => v == (1000 + i).ToString(CultureInfo.InvariantCulture),
                    "no other terminal's output on this channel");
            }

            shells.Should().OnlyHaveUniqueItems();
            shells.Should().OnlyContain(pid => ProcFs.IsAlive(pid));

            await Task.WhenAll(ids.Select(async id =>
            {
                var response = await client.DeleteAsync($"/terminals/{id}", ct);
                response.Code.Should().BeOneOf([200, 204], response.Describe());
            }));

            await Eventually.UntilAsync(
                () =>
                {
                    var sessions = ProcFs.All().Where(p => p.State is not ('Z' or 'X')).Select(p => LiveApi.SessionOf(p.Pid)).ToHashSet();
                    return shells.Where(s => sessions.Contains(s)).ToList();
                },
                left => left.Count == 0, TimeSpan.FromSeconds(20), "every shell (and its session) gone", ct);
            await Eventually.UntilAsync(() => socket.Frames.Where(f => f.Is("terminal:destroyed")).Select(f => f.Channel).Distinct().Count(),
                n => n == Count, TimeSpan.FromSeconds(20), "terminal:destroyed for every PTY", ct);
        }
        finally
        {
            foreach (var id in ids.Where(id => id is not null))
            {
                await LiveApi.DeleteTerminalQuietlyAsync(client, id);
            }
        }
    }
}
