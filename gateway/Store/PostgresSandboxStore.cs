using Npgsql;

namespace Sandboxd.Gateway.Store;

/// <summary>
/// <see cref="ISandboxStore"/> on a PostgreSQL database shared by several gateway processes (docs/adr/0010-gateway-postgres.md).
/// The rules that must hold across gateways are the database's: the partial unique index on live names (exactly-once
/// findOrCreate), conditional status updates (one destroyer per sandbox), a lease row for the sweeper, heartbeat rows
/// for the gateways. Times the gateways compare with each other use the database's clock (<c>now()</c>).
/// </summary>
internal sealed partial class PostgresSandboxStore : ISandboxStore, IAsyncDisposable
{
    /// <summary>The advisory lock key held while migrating ("sandboxd" in ASCII).</summary>
    private const long MigrationLockKey = 0x73616e64626f7864;

    /// <summary>Schema versions, applied in order, each once (<c>schema_version</c>); never edit one that shipped, add the next.</summary>
    private static readonly string[][] Migrations =
    [
        [
            """
            CREATE TABLE sandboxes (
                id text PRIMARY KEY, owner text NOT NULL, namespace text, name text, status text NOT NULL, provider text NOT NULL,
                dir text NOT NULL, root text NOT NULL, created_at bigint NOT NULL, expires_at bigint, metadata text, url text,
                token text, agent_pid integer NOT NULL DEFAULT 0, agent_start bigint NOT NULL DEFAULT 0, gone_reason text, gateway text)
            """,
            "CREATE UNIQUE INDEX sandboxes_live_name ON sandboxes (owner, namespace, name) WHERE name IS NOT NULL AND status IN ('creating', 'ready')",
            "CREATE INDEX sandboxes_active ON sandboxes (status) WHERE status <> 'gone'",
            """
            CREATE TABLE snapshots (
                id text PRIMARY KEY, owner text NOT NULL, sandbox_id text NOT NULL, name text, metadata text,
                archive text NOT NULL, created_at bigint NOT NULL)
            """,
            "CREATE INDEX snapshots_owner ON snapshots (owner)",
            "CREATE TABLE gateways (id text PRIMARY KEY, alive_until timestamptz NOT NULL)",
            "CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)",
        ],
        // The docker provider: the engine holding the sandbox (null for local sandboxes).
        ["ALTER TABLE sandboxes ADD COLUMN engine text"],
    ];

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _gateway;

    /// <param name="connectionString">An Npgsql connection string (<see cref="StoreLocation"/> turns a URL into one).</param>
    /// <param name="gateway">This gateway process's instance id.</param>
    public PostgresSandboxStore(string connectionString, string gateway)
    {
        // The slim builder leaves out what needs reflection or unreferenced code (the publish stays warning-free);
        // TLS is added back so sslmode=require/verify-full work.
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString);
        builder.EnableTransportSecurity();
        _dataSource = builder.Build();
        _gateway = gateway;
    }

    public bool Shared => true;

    /// <summary>Where the store is, for the log line (no password).</summary>
    public string Describe()
    {
        var b = new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString);
        return $"postgres {b.Username}@{b.Host}:{b.Port}/{b.Database}";
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // Session-level advisory lock: a second gateway starting now waits here, then finds nothing left to apply.
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({MigrationLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", cancellationToken);
            await using var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_version", connection);
            var version = (int)(await read.ExecuteScalarAsync(cancellationToken))!;
            if (version > Migrations.Length)
            {
                throw new StoreException(
                    $"The database is at schema version {version}, newer than this gateway knows ({Migrations.Length}): run a newer sandboxd-gateway.");
            }

            for (var v = version + 1; v <= Migrations.Length; v++)
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                foreach (var statement in Migrations[v - 1])
                {
                    await ExecuteAsync(connection, statement, cancellationToken);
                }

                await using var record = new NpgsqlCommand("INSERT INTO schema_version (version) VALUES ($1)", connection);
                record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = v });
                await record.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
        }
        finally
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({MigrationLockKey})", CancellationToken.None);
        }
    }

    public async Task HeartbeatAsync(TimeSpan ttl, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            "INSERT INTO gateways (id, alive_until) VALUES ($1, now() + make_interval(secs => $2)) ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until",
            cancellationToken, _gateway, ttl.TotalSeconds);

    public async Task<IReadOnlySet<string>> ListLiveGatewaysAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT id FROM gateways WHERE alive_until >= now()");
        var live = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            live.Add(reader.GetString(0));
        }

        return live;
    }

    public async Task<bool> TryHoldLeaseAsync(string lease, TimeSpan ttl, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            """
            INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at < now()
            """,
            cancellationToken, lease, _gateway, ttl.TotalSeconds) == 1;

    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await ExecuteAsync("DELETE FROM leases WHERE holder = $1", cancellationToken, _gateway);
        await ExecuteAsync("DELETE FROM gateways WHERE id = $1 OR alive_until < now() - interval '1 day'", cancellationToken, _gateway);
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs <paramref name="sql"/> with positional parameters ($1, $2, …); returns the rows it changed.</summary>
    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        AddParameters(command, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddParameters(NpgsqlCommand command, object?[] parameters)
    {
        foreach (var value in parameters)
        {
            command.Parameters.Add(value switch
            {
                NpgsqlParameter p => p,
                string s => Text(s),
                int i => new NpgsqlParameter<int> { TypedValue = i },
                long l => new NpgsqlParameter<long> { TypedValue = l },
                double d => new NpgsqlParameter<double> { TypedValue = d },
                _ => throw new ArgumentException($"No parameter mapping for {value?.GetType().Name ?? "null"}.", nameof(parameters)),
            });
        }
    }

    private static NpgsqlParameter Text(string? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };

    private static NpgsqlParameter Bigint(long? value) =>
        new() { Value = value is { } v ? v : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint };
}
