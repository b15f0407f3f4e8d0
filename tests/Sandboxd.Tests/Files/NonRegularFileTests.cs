using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

/// <summary>
/// Only regular files are read (issue 13 #6): a device never ends and a FIFO blocks the open until a writer comes, so
/// both are refused with a clear 4xx — for <c>GET /files/…?content=true</c> and for watchers with content. Each test
/// runs its own agent with a small GC heap limit, so an agent that does read /dev/zero fails fast instead of taking
/// the machine's memory.
/// </summary>
public sealed class NonRegularFileTests
{
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(10);

    private static AgentLaunch Bounded => new()
    {
        Environment = new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" }, // 512 MiB
    };

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        mkfifo.ExitCode.Should().Be(0);
    }

    private static async Task<ApiResponse> GetPromptlyAsync(AgentClient client, string path, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Prompt);
        try
        {
            return await client.GetAsync(path, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"GET {path} got no answer within {Prompt.TotalSeconds} s.");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Reading_dev_zero_is_refused_as_not_a_regular_file()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(Bounded, ct);

        var response = await GetPromptlyAsync(agent.Client, "/files/%2Fdev%2Fzero?content=true", ct);

        response.ShouldBeError(400).Should().Contain("not a regular file");
        (await agent.Client.GetAsync("/health", ct)).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 60_000)]
    public async Task Reading_a_fifo_answers_at_once_instead_of_waiting_for_a_writer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await AgentProcess.StartAsync(Bounded, ct);
        var fifo = Path.Combine(agent.Root, "pipe");
        MakeFifo(fifo);

        var response = await GetPromptlyAsync(agent.Client, "/files/pipe?content=true", ct);

        response.ShouldBeError(400).Should().Contain("not a regular file");
        // Without content the FIFO is only described, as before.
        (await GetPromptlyAsync(agent.Client, "/files/pipe", ct)).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_fifo_in_a_content_watcher_blocks_neither_its_events_nor_its_delete_nor_the_agent_stop()
    {
        var ct = TestContext.Current.CancellationToken;
        var agent = await AgentProcess.StartAsync(Bounded, ct);
        try
        {
            var dir = Path.Combine(agent.Root, "watched");
            Directory.CreateDirectory(dir);
            var created = await agent.Client.PostJsonAsync("/watchers", $$"""{"path":{{JsonSerializer.Serialize(dir)}},"includeContent":true}""", ct);
            created.Code.Should().BeOneOf([200, 201], created.Describe());
            var id = created.Data.GetProperty("id").GetString()!;
            var channel = created.Data.GetProperty("channel").GetString()!;
            await using var socket = await LiveSocket.ConnectAsync(agent, ct);
            await socket.SubscribeAsync(channel, ct);

            var fifo = Path.Combine(dir, "pipe");
            MakeFifo(fifo);
            var after = Path.Combine(dir, "after.txt");
            await File.WriteAllTextAsync(after, "still flowing", ct);

            var addAfter = await socket.WaitForAsync(
                f => f.Is("file:changed", channel) && f.Str("event") == "add" && f.Str("path") == after, Prompt, "the add of a file written after the FIFO", ct);
            addAfter.Str("content").Should().Be("still flowing");
            socket.Frames.Where(f => f.Is("file:changed", channel) && f.Str("path") == fifo).Should()
                .NotContain(f => f.Str("content") != null, "a FIFO's event (if any) carries no content");

            var stopwatch = Stopwatch.StartNew();
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(Prompt);
                (await agent.Client.DeleteAsync($"/watchers/{id}", timeout.Token)).Code.Should().BeOneOf([200, 204]);
            }

            stopwatch.Elapsed.Should().BeLessThan(Prompt);
        }
        finally
        {
            var stopwatch = Stopwatch.StartNew();
            await agent.DisposeAsync();
            stopwatch.Elapsed.Should().BeLessThan(Prompt, "the agent stops promptly with a FIFO in a content watcher");
        }
    }
}
