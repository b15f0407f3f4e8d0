using Microsoft.Data.Sqlite;

namespace Sandboxd.Gateway.Store;

internal sealed partial class SqliteSandboxStore
{
    private const int SqliteConstraintUnique = 2067;

    public async Task<bool> TryInsertAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO sandboxes ({Columns}) VALUES ({ParameterList})";
        Bind(command, record);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == SqliteConstraintUnique)
        {
            return false;
        }
    }

    public async Task<SandboxRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var found = await QueryAsync($"SELECT {Columns} FROM sandboxes WHERE id = $id", cancellationToken, ("$id", id));
        return found.Count > 0 ? found[0] : null;
    }

    public async Task<SandboxRecord?> FindByNameAsync(string owner, string @namespace, string name, CancellationToken cancellationToken)
    {
        var found = await QueryAsync(
            $"SELECT {Columns} FROM sandboxes WHERE owner = $owner AND namespace = $ns AND name = $name AND status IN ('creating', 'ready')",
            cancellationToken, ("$owner", owner), ("$ns", @namespace), ("$name", name));
        return found.Count > 0 ? found[0] : null;
    }

    public async Task UpdateAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE sandboxes SET status = $status, expires_at = $expires_at, metadata = $metadata, url = $url, token = $token,
                agent_pid = $agent_pid, agent_start = $agent_start, gone_reason = $gone_reason, root = $root
            WHERE id = $id
            """;
        Bind(command, record);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> TryTransitionAsync(string id, SandboxStatus from, SandboxStatus to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE sandboxes SET status = $to, gateway = $gateway WHERE id = $id AND status = $from";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$gateway", _gateway);
        command.Parameters.AddWithValue("$from", StatusName(from));
        command.Parameters.AddWithValue("$to", StatusName(to));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> TrySetExpiryAsync(string id, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE sandboxes SET expires_at = $expires_at WHERE id = $id AND status = 'ready'";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$expires_at", expiresAt.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<IReadOnlyList<SandboxRecord>> ListActiveAsync(CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {Columns} FROM sandboxes WHERE status <> 'gone'", cancellationToken);

    private const string ParameterList =
        "$id, $owner, $namespace, $name, $status, $provider, $dir, $root, $created_at, $expires_at, $metadata, $url, $token, $agent_pid, $agent_start, $gone_reason, $gateway, $engine";

    private void Bind(SqliteCommand command, SandboxRecord r)
    {
        var p = command.Parameters;
        p.AddWithValue("$id", r.Id);
        p.AddWithValue("$owner", r.Owner);
        p.AddWithValue("$namespace", (object?)r.Namespace ?? DBNull.Value);
        p.AddWithValue("$name", (object?)r.Name ?? DBNull.Value);
        p.AddWithValue("$status", StatusName(r.Status));
        p.AddWithValue("$provider", r.Provider);
        p.AddWithValue("$dir", r.Dir);
        p.AddWithValue("$root", r.Root);
        p.AddWithValue("$created_at", r.CreatedAt.ToUnixTimeMilliseconds());
        p.AddWithValue("$expires_at", r.ExpiresAt is { } e ? e.ToUnixTimeMilliseconds() : DBNull.Value);
        p.AddWithValue("$metadata", (object?)r.MetadataJson ?? DBNull.Value);
        p.AddWithValue("$url", (object?)r.Url ?? DBNull.Value);
        p.AddWithValue("$token", (object?)r.Token ?? DBNull.Value);
        p.AddWithValue("$agent_pid", r.AgentPid);
        p.AddWithValue("$agent_start", r.AgentStartTicks);
        p.AddWithValue("$gone_reason", (object?)r.GoneReason ?? DBNull.Value);
        p.AddWithValue("$gateway", _gateway);
        p.AddWithValue("$engine", (object?)r.Engine ?? DBNull.Value);
    }

    private async Task<IReadOnlyList<SandboxRecord>> QueryAsync(string sql, CancellationToken cancellationToken, params (string Name, string Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var records = new List<SandboxRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    private static SandboxRecord Read(SqliteDataReader r) => new(
        Id: r.GetString(0),
        Owner: r.GetString(1),
        Namespace: r.IsDBNull(2) ? null : r.GetString(2),
        Name: r.IsDBNull(3) ? null : r.GetString(3),
        Status: ParseStatus(r.GetString(4)),
        Provider: r.GetString(5),
        Dir: r.GetString(6),
        Root: r.GetString(7),
        CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)),
        ExpiresAt: r.IsDBNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9)),
        MetadataJson: r.IsDBNull(10) ? null : r.GetString(10),
        Url: r.IsDBNull(11) ? null : r.GetString(11),
        Token: r.IsDBNull(12) ? null : r.GetString(12),
        AgentPid: r.GetInt32(13),
        AgentStartTicks: r.GetInt64(14),
        GoneReason: r.IsDBNull(15) ? null : r.GetString(15),
        Gateway: r.IsDBNull(16) ? null : r.GetString(16),
        Engine: r.IsDBNull(17) ? null : r.GetString(17));

    private static string StatusName(SandboxStatus status) => StoreText.StatusName(status);

    private static SandboxStatus ParseStatus(string status) => StoreText.ParseStatus(status);
}
