using Npgsql;

namespace Sandboxd.Gateway.Store;

internal sealed partial class PostgresSandboxStore
{
    private const string Columns =
        "id, owner, namespace, name, status, provider, dir, root, created_at, expires_at, metadata, url, token, agent_pid, agent_start, gone_reason, gateway, engine";

    private const string SnapshotColumns = "id, owner, sandbox_id, name, metadata, archive, created_at";

    public async Task<bool> TryInsertAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(
                $"INSERT INTO sandboxes ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                cancellationToken,
                record.Id, record.Owner, Text(record.Namespace), Text(record.Name), StoreText.StatusName(record.Status), record.Provider,
                record.Dir, record.Root, record.CreatedAt.ToUnixTimeMilliseconds(), Bigint(record.ExpiresAt?.ToUnixTimeMilliseconds()),
                Text(record.MetadataJson), Text(record.Url), Text(record.Token), record.AgentPid, record.AgentStartTicks,
                Text(record.GoneReason), _gateway, Text(record.Engine));
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return false; // the live-name index: another call (on any gateway) holds this name
        }
    }

    public async Task<SandboxRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        (await QueryAsync($"SELECT {Columns} FROM sandboxes WHERE id = $1", cancellationToken, id)) is [var first, ..] ? first : null;

    public async Task<SandboxRecord?> FindByNameAsync(string owner, string @namespace, string name, CancellationToken cancellationToken) =>
        (await QueryAsync(
            $"SELECT {Columns} FROM sandboxes WHERE owner = $1 AND namespace = $2 AND name = $3 AND status IN ('creating', 'ready')",
            cancellationToken, owner, @namespace, name)) is [var first, ..] ? first : null;

    public Task UpdateAsync(SandboxRecord record, CancellationToken cancellationToken) =>
        ExecuteAsync(
            """
            UPDATE sandboxes SET status = $2, expires_at = $3, metadata = $4, url = $5, token = $6, agent_pid = $7,
                agent_start = $8, gone_reason = $9, root = $10
            WHERE id = $1
            """,
            cancellationToken,
            record.Id, StoreText.StatusName(record.Status), Bigint(record.ExpiresAt?.ToUnixTimeMilliseconds()), Text(record.MetadataJson),
            Text(record.Url), Text(record.Token), record.AgentPid, record.AgentStartTicks, Text(record.GoneReason), record.Root);

    public async Task<bool> TryTransitionAsync(string id, SandboxStatus from, SandboxStatus to, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE sandboxes SET status = $3, gateway = $4 WHERE id = $1 AND status = $2", cancellationToken,
            id, StoreText.StatusName(from), StoreText.StatusName(to), _gateway) == 1;

    public async Task<bool> TrySetExpiryAsync(string id, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE sandboxes SET expires_at = $2 WHERE id = $1 AND status = 'ready'", cancellationToken,
            id, expiresAt.ToUnixTimeMilliseconds()) == 1;

    public Task<IReadOnlyList<SandboxRecord>> ListActiveAsync(CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {Columns} FROM sandboxes WHERE status <> 'gone'", cancellationToken);

    public Task InsertSnapshotAsync(SnapshotRecord snapshot, CancellationToken cancellationToken) =>
        ExecuteAsync($"INSERT INTO snapshots ({SnapshotColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7)", cancellationToken,
            snapshot.Id, snapshot.Owner, snapshot.SandboxId, Text(snapshot.Name), Text(snapshot.MetadataJson), snapshot.ArchivePath,
            snapshot.CreatedAt.ToUnixTimeMilliseconds());

    public async Task<SnapshotRecord?> GetSnapshotAsync(string id, CancellationToken cancellationToken) =>
        (await QuerySnapshotsAsync($"SELECT {SnapshotColumns} FROM snapshots WHERE id = $1", id, cancellationToken)) is [var first, ..] ? first : null;

    public Task<IReadOnlyList<SnapshotRecord>> ListSnapshotsAsync(string owner, CancellationToken cancellationToken) =>
        QuerySnapshotsAsync($"SELECT {SnapshotColumns} FROM snapshots WHERE owner = $1 ORDER BY created_at, id", owner, cancellationToken);

    public async Task<bool> DeleteSnapshotAsync(string id, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM snapshots WHERE id = $1", cancellationToken, id) == 1;

    private async Task<IReadOnlyList<SandboxRecord>> QueryAsync(string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        AddParameters(command, parameters);
        var records = new List<SandboxRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(new SandboxRecord(
                Id: reader.GetString(0),
                Owner: reader.GetString(1),
                Namespace: reader.IsDBNull(2) ? null : reader.GetString(2),
                Name: reader.IsDBNull(3) ? null : reader.GetString(3),
                Status: StoreText.ParseStatus(reader.GetString(4)),
                Provider: reader.GetString(5),
                Dir: reader.GetString(6),
                Root: reader.GetString(7),
                CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)),
                ExpiresAt: reader.IsDBNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)),
                MetadataJson: reader.IsDBNull(10) ? null : reader.GetString(10),
                Url: reader.IsDBNull(11) ? null : reader.GetString(11),
                Token: reader.IsDBNull(12) ? null : reader.GetString(12),
                AgentPid: reader.GetInt32(13),
                AgentStartTicks: reader.GetInt64(14),
                GoneReason: reader.IsDBNull(15) ? null : reader.GetString(15),
                Gateway: reader.IsDBNull(16) ? null : reader.GetString(16),
                Engine: reader.IsDBNull(17) ? null : reader.GetString(17)));
        }

        return records;
    }

    private async Task<IReadOnlyList<SnapshotRecord>> QuerySnapshotsAsync(string sql, string value, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(sql);
        AddParameters(command, [value]);
        var snapshots = new List<SnapshotRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            snapshots.Add(new SnapshotRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
        }

        return snapshots;
    }
}
