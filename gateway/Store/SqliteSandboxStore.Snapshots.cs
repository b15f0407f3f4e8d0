using Microsoft.Data.Sqlite;

namespace Sandboxd.Gateway.Store;

internal sealed partial class SqliteSandboxStore
{
    private const string SnapshotColumns = "id, owner, sandbox_id, name, metadata, archive, created_at";

    public async Task InsertSnapshotAsync(SnapshotRecord snapshot, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO snapshots ({SnapshotColumns}) VALUES ($id, $owner, $sandbox_id, $name, $metadata, $archive, $created_at)";
        var p = command.Parameters;
        p.AddWithValue("$id", snapshot.Id);
        p.AddWithValue("$owner", snapshot.Owner);
        p.AddWithValue("$sandbox_id", snapshot.SandboxId);
        p.AddWithValue("$name", (object?)snapshot.Name ?? DBNull.Value);
        p.AddWithValue("$metadata", (object?)snapshot.MetadataJson ?? DBNull.Value);
        p.AddWithValue("$archive", snapshot.ArchivePath);
        p.AddWithValue("$created_at", snapshot.CreatedAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<SnapshotRecord?> GetSnapshotAsync(string id, CancellationToken cancellationToken)
    {
        var found = await QuerySnapshotsAsync($"SELECT {SnapshotColumns} FROM snapshots WHERE id = $v", id, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    public Task<IReadOnlyList<SnapshotRecord>> ListSnapshotsAsync(string owner, CancellationToken cancellationToken) =>
        QuerySnapshotsAsync($"SELECT {SnapshotColumns} FROM snapshots WHERE owner = $v ORDER BY created_at, id", owner, cancellationToken);

    public async Task<bool> DeleteSnapshotAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM snapshots WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private async Task<IReadOnlyList<SnapshotRecord>> QuerySnapshotsAsync(string sql, string value, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$v", value);
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
