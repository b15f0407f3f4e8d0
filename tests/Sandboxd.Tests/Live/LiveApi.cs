using System.Text.Json;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Live;

/// <summary>HTTP calls the live tests share: PTY terminals and pending streamed commands.</summary>
internal static class LiveApi
{
    public static readonly TimeSpan Quick = TimeSpan.FromSeconds(30);

    /// <summary><c>POST /terminals {"pty":true}</c>; returns the id (channel = terminal:id).</summary>
    public static async Task<string> CreatePtyAsync(AgentClient client, CancellationToken cancellationToken, string extra = "")
    {
        var response = await client.PostJsonAsync("/terminals", $$"""{"pty":true{{extra}}}""", cancellationToken);
        response.Code.Should().BeOneOf([200, 201], response.Describe());
        var data = response.Data;
        data.GetProperty("pty").GetBoolean().Should().BeTrue();
        var id = data.GetProperty("id").GetString()!;
        data.GetProperty("channel").GetString().Should().Be("terminal:" + id);
        return id;
    }

    /// <summary><c>POST /run/command {"stream":true}</c>; returns (cmd_id, channel). The command starts on command:start.</summary>
    public static async Task<(string CmdId, string Channel)> PendingCommandAsync(AgentClient client, string command, CancellationToken cancellationToken)
    {
        var response = await client.PostJsonAsync("/run/command", JsonSerializer.Serialize(new Dictionary<string, object> { ["command"] = command, ["stream"] = true }), cancellationToken);
        response.ShouldHaveStatus(200);
        var data = response.Data;
        var cmdId = data.GetProperty("cmd_id").GetString()!;
        var channel = data.GetProperty("channel").GetString()!;
        channel.Should().Be("command:" + cmdId);
        return (cmdId, channel);
    }

    /// <summary>Like <see cref="PendingCommandAsync"/>, also returning the terminal the command is recorded under.</summary>
    public static async Task<(string CmdId, string Channel, string TerminalId)> PendingCommandWithTerminalAsync(AgentClient client, string command, CancellationToken cancellationToken)
    {
        var response = await client.PostJsonAsync("/run/command", JsonSerializer.Serialize(new Dictionary<string, object> { ["command"] = command, ["stream"] = true }), cancellationToken);
        response.ShouldHaveStatus(200);
        var data = response.Data;
        return (data.GetProperty("cmd_id").GetString()!, data.GetProperty("channel").GetString()!, data.GetProperty("terminal_id").GetString()!);
    }

    /// <summary>Polls the command record until it is no longer running; returns its status.</summary>
    public static async Task<string> WaitCommandFinishedAsync(AgentClient client, string terminalId, string cmdId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var record = await Eventually.UntilAsync(
            async () => (await client.GetAsync($"/terminals/{terminalId}/commands/{cmdId}", cancellationToken)).Data.GetProperty("status").GetString(),
            s => s is not ("running" or "pending"), timeout, $"command {cmdId} to finish", cancellationToken);
        return record!;
    }

    /// <summary>Deletes a terminal, tolerating one that is already gone.</summary>
    public static async Task DeleteTerminalQuietlyAsync(AgentClient client, string id)
    {
        try
        {
            await client.DeleteAsync($"/terminals/{id}", CancellationToken.None);
        }
        catch (HttpRequestException)
        {
            // the agent is going away anyway
        }
    }

    /// <summary>The session id (field 6 of /proc/PID/stat) of a process, or null when it is gone.</summary>
    public static int? SessionOf(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(rest[3], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every live (non-zombie) process whose session id is <paramref name="session"/>.</summary>
    public static IReadOnlyList<int> ProcessesInSession(int session) =>
        ProcFs.All().Where(p => p.State is not ('Z' or 'X') && SessionOf(p.Pid) == session).Select(p => p.Pid).ToList();
}

/// <summary>Tests that load the machine heavily (100 shells, floods) run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(HeavyLiveCollection), DisableParallelization = true)]
public sealed class HeavyLiveCollection;
