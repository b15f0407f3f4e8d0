using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Sandboxes;

/// <summary>
/// One agent per state directory, and nothing of the state directory reachable through the file API (issue 13 #8):
/// a second agent on a locked state dir exits with a clear error; temp files of a killed agent are swept; child roots live
/// outside the state dir and no file route reaches it; an unknown subdomain answers anonymous requests as a known one.
/// </summary>
public sealed class StateDirectoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_second_agent_on_the_same_state_dir_exits_non_zero_with_a_clear_error_and_the_first_keeps_serving()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-lock-").FullName;
        try
        {
            await using var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);

            AgentProcess? intruder = null;
            InvalidOperationException? failure = null;
            try
            {
                intruder = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
            }
            catch (InvalidOperationException e)
            {
                failure = e;
            }
            finally
            {
                if (intruder is not null)
                {
                    await intruder.DisposeAsync();
                }
            }

            intruder.Should().BeNull("a second agent must not share the state directory");
            failure!.Message.Should().Contain("exited with 1 before printing its ready line")
                .And.Contain("in use by another sandboxd agent").And.Contain($"pid {first.Pid}").And.Contain(stateDir);
            (await first.Client.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task The_lock_goes_with_the_agent_so_the_next_agent_starts_even_after_a_SIGKILL()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-relock-").FullName;
        try
        {
            var first = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
            Posix.Kill(first.Pid, Posix.SIGKILL).Should().BeTrue();
            await Eventually.UntilAsync(() => first.HasExited, TimeSpan.FromSeconds(10), "the agent to die", Ct);
            try
            {
                await first.DisposeAsync();
            }
            catch (InvalidOperationException)
            {
                // It was SIGKILLed on purpose, so its exit code is not 0.
            }

            await using var second = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);
            (await second.Client.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Temp_files_left_by_a_killed_agent_are_swept_at_start_and_other_files_are_kept()
    {
        var stateDir = Directory.CreateTempSubdirectory("sandboxd-state-sweep-").FullName;
        try
        {
            var leftovers = new[]
            {
                Path.Combine(stateDir, ".servers.json.sandboxd-0123456789abcdef0123456789abcdef.tmp"),
                Path.Combine(stateDir, ".session-tokens.json." + Guid.NewGuid().ToString("N") + ".tmp"),
            };
            var keep = Path.Combine(stateDir, "notes.tmp");
            foreach (var file in leftovers.Append(keep))
            {
                await File.WriteAllTextAsync(file, "{\"half", Ct);
            }

            await using var agent = await AgentProcess.StartAsync(new AgentLaunch { StateDir = stateDir }, Ct);

            leftovers.Where(File.Exists).Should().BeEmpty("half-written state files of a killed agent are swept at start");
            File.Exists(keep).Should().BeTrue("only the agent's own temp files are swept");
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_child_root_is_outside_the_state_dir_and_no_file_route_reaches_the_state_dir()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        var created = await agent.Client.PostJsonAsync("/sandboxes", "{}", Ct);
        created.ShouldHaveStatus(201);
        var sub = created.Json.GetProperty("subdomain").GetString()!;
        var root = created.Json.GetProperty("directory").GetString()!;
        try
        {
            File.Exists(Path.Combine(agent.StateDir, "sandboxes.json")).Should().BeTrue("the child is recorded in the state dir");
            (root + "/").Should().NotStartWith(agent.StateDir + "/", "a child's root is not inside the state directory");

            var escapes = new[]
            {
                $"/s/{sub}/files/..%2F..%2Fsandboxes.json?content=true",
                $"/s/{sub}/files/{Uri.EscapeDataString(Path.Combine(agent.StateDir, "sandboxes.json"))}?content=true",
                $"/files/{Uri.EscapeDataString(Path.Combine(agent.StateDir, "sandboxes.json"))}?content=true",
                $"/s/{sub}/files?path={Uri.EscapeDataString(agent.StateDir)}",
            };
            foreach (var escape in escapes)
            {
                var response = await agent.Client.GetAsync(escape, Ct);
                response.Code.Should().BeInRange(400, 499, $"{escape} must not reach the state dir: {response.Describe()}");
                response.Text.Should().NotContain(sub + "\",\"directory", "the state file's content must not come back");
            }

            // A symlink in the child's root does not lead there either.
            File.CreateSymbolicLink(Path.Combine(root, "state-link"), agent.StateDir);
            (await agent.Client.GetAsync($"/s/{sub}/files/state-link%2Fsandboxes.json?content=true", Ct)).Code.Should().BeInRange(400, 499);
            var write = await agent.Client.PostJsonAsync($"/s/{sub}/files",
                $$"""{"path":{{JsonSerializer.Serialize(Path.Combine(agent.StateDir, "servers.json"))}},"content":"[]"}""", Ct);
            write.Code.Should().BeInRange(400, 499, write.Describe());
        }
        finally
        {
            (await agent.Client.DeleteAsync($"/sandboxes/{sub}?delete_files=true", Ct)).ShouldHaveStatus(204);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Public_routes_answer_an_unknown_subdomain_exactly_as_a_known_one()
    {
        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        var created = await agent.Client.PostJsonAsync("/sandboxes", "{}", Ct);
        created.ShouldHaveStatus(201);
        var known = created.Json.GetProperty("subdomain").GetString()!;
        const string unknown = "sandbox-00000000";
        try
        {
            foreach (var route in new[] { "/ready", "/health", "/info", "/auth/status", "/files?path=/", "/run/command" })
            {
                var forKnown = await agent.Anonymous.GetAsync($"/s/{known}{route}", Ct);
                var forUnknown = await agent.Anonymous.GetAsync($"/s/{unknown}{route}", Ct);

                forUnknown.Code.Should().Be(forKnown.Code, $"{route}: known {forKnown} / unknown {forUnknown}");
                Shape(forUnknown.Text).Should().Be(Shape(forKnown.Text), $"{route}: the answers differ only in timestamps");
            }

            (await agent.Client.GetAsync($"/s/{unknown}/ready", Ct)).ShouldBeError(404);
        }
        finally
        {
            await agent.Client.DeleteAsync($"/sandboxes/{known}?delete_files=true", Ct);
        }
    }

    [Fact(Timeout = 90_000)]
    public async Task A_state_write_fsyncs_the_file_before_the_rename_and_the_directory_after_it()
    {
        if (!File.Exists("/usr/bin/strace"))
        {
            Assert.Skip("strace is not installed: the syscall order of a state write cannot be observed.");
        }

        await using var agent = await AgentProcess.StartAsync(AgentLaunch.Default, Ct);
        var log = Path.Combine(agent.Root, "..", $"strace-{Guid.NewGuid():N}.log");
        var strace = new System.Diagnostics.ProcessStartInfo("/usr/bin/strace", ["-f", "-p", agent.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", log]) { RedirectStandardError = true };
        using var tracer = System.Diagnostics.Process.Start(strace)!;
        string sub;
        try
        {
            using (var attached = CancellationTokenSource.CreateLinkedTokenSource(Ct))
            {
                attached.CancelAfter(TimeSpan.FromSeconds(20));
                while (await tracer.StandardError.ReadLineAsync(attached.Token) is { } line && !line.Contains("attached", StringComparison.Ordinal))
                {
                    if (line.Contains("Operation not permitted", StringComparison.Ordinal))
                    {
                        Assert.Skip("ptrace is not permitted here: " + line);
                    }
                }
            }

            var created = await agent.Client.PostJsonAsync("/sandboxes", "{}", Ct);
            created.ShouldHaveStatus(201);
            sub = created.Json.GetProperty("subdomain").GetString()!;
        }
        finally
        {
            Posix.Kill(tracer.Id, 2); // SIGINT: strace detaches and flushes its log
            await tracer.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        }

        var lines = await File.ReadAllLinesAsync(log, Ct);
        File.Delete(log);
        var rename = Array.FindIndex(lines, l => l.Contains("rename", StringComparison.Ordinal) && l.Contains("/sandboxes.json\"", StringComparison.Ordinal));
        rename.Should().BeGreaterThan(0, "the write renames a temp file over sandboxes.json:\n" + string.Join('\n', lines));
        var thread = lines[rename].Split(' ')[0];
        bool IsSync(string l) => l.StartsWith(thread + " ", StringComparison.Ordinal) && (l.Contains(" fsync(", StringComparison.Ordinal) || l.Contains(" fdatasync(", StringComparison.Ordinal));
        lines[..rename].Any(IsSync).Should().BeTrue("the temp file is synced before the rename:\n" + string.Join('\n', lines));
        lines[(rename + 1)..].Any(IsSync).Should().BeTrue("the directory is synced after the rename, or a crash can undo it:\n" + string.Join('\n', lines));
        (await agent.Client.DeleteAsync($"/sandboxes/{sub}?delete_files=true", Ct)).ShouldHaveStatus(204);
    }

    /// <summary>The JSON with timestamps blanked (health and info carry the time of the answer).</summary>
    private static string Shape(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json, "\"\\d{4}-\\d{2}-\\d{2}T[^\"]*\"", "\"<time>\"");
}
