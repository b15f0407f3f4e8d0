using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace Sandboxd.Gateway.Store;

/// <summary>
/// <see cref="ISandboxStore"/> on one SQLite file (<c>gateway.db</c> in the state dir, WAL, synchronous=FULL): a
/// kill -9 after a call returns loses nothing. (owner, namespace, name) is a partial unique index over live records,
/// so exactly-once findOrCreate is the database's rule, not an in-memory map's (docs/adr/0003-gateway-sqlite.md).
/// </summary>
internal sealed partial class SqliteSandboxStore : ISandboxStore
{
    private const string Columns =
        "id, owner, namespace, name, status, provider, dir, root, created_at, expires_at, metadata, url, token, agent_pid, agent_start, gone_reason, gateway, engine";

    /// <summary>
    /// Schema versions, applied in order, each once (<c>schema_version</c>); never edit one that shipped, add the next.
    /// Version 1 is the schema from before versioning (IF NOT EXISTS: a database made then is at version 1 as it is).
    /// </summary>
    private static readonly string[][] Migrations =
    [
        [
            """
            CREATE TABLE IF NOT EXISTS sandboxes (
                id TEXT PRIMARY KEY, owner TEXT NOT NULL, namespace TEXT, name TEXT, status TEXT NOT NULL, provider TEXT NOT NULL,
                dir TEXT NOT NULL, root TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, metadata TEXT, url TEXT,
                token TEXT, agent_pid INTEGER NOT NULL DEFAULT 0, agent_start INTEGER NOT NULL DEFAULT 0, gone_reason TEXT)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS sandboxes_live_name ON sandboxes(owner, namespace, name) WHERE name IS NOT NULL AND status IN ('creating', 'ready')",
            "CREATE INDEX IF NOT EXISTS sandboxes_status ON sandboxes(status)",
            """
            CREATE TABLE IF NOT EXISTS snapshots (
                id TEXT PRIMARY KEY, owner TEXT NOT NULL, sandbox_id TEXT NOT NULL, name TEXT, metadata TEXT,
                archive TEXT NOT NULL, created_at INTEGER NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS snapshots_owner ON snapshots(owner)",
        ],
        ["ALTER TABLE sandboxes ADD COLUMN gateway TEXT"],
        // The docker provider: the engine holding the sandbox (null for local sandboxes).
        ["ALTER TABLE sandboxes ADD COLUMN engine TEXT"],
    ];

    private readonly string _connectionString;
    private readonly string _gateway;
    private readonly TimeProvider _time;

    /// <param name="path">The database file (default <c>&lt;state-dir&gt;/gateway.db</c>).</param>
    /// <param name="gateway">This gateway process's instance id.</param>
    public SqliteSandboxStore(string path, string gateway, TimeProvider time)
    {
        UseSystemSqlite();
        _gateway = gateway;
        _time = time;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    /// <summary>One gateway per database file: the file lives in its state dir.</summary>
    public bool Shared => false;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL", cancellationToken);
        // BEGIN IMMEDIATE takes the write lock first: a second process migrating waits (busy_timeout), then sees the new version.
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", cancellationToken);
        await using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT coalesce(max(version), 0) FROM schema_version";
            var version = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            if (version > Migrations.Length)
            {
                throw new StoreException(
                    $"The database is at schema version {version}, newer than this gateway knows ({Migrations.Length}): run a newer sandboxd-gateway.");
            }

            for (var v = version + 1; v <= Migrations.Length; v++)
            {
                foreach (var statement in Migrations[v - 1])
                {
                    await ExecuteAsync(connection, statement, cancellationToken);
                }

                await using var record = connection.CreateCommand();
                record.CommandText = "INSERT INTO schema_version (version, applied_at) VALUES ($v, $at)";
                record.Parameters.AddWithValue("$v", v);
                record.Parameters.AddWithValue("$at", _time.GetUtcNow().ToUnixTimeMilliseconds());
                await record.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    // One gateway per file: it is always the live one and holds every lease; nothing to write.
    public Task HeartbeatAsync(TimeSpan ttl, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlySet<string>> ListLiveGatewaysAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlySet<string>>(new HashSet<string>(StringComparer.Ordinal) { _gateway });

    public Task<bool> TryHoldLeaseAsync(string lease, TimeSpan ttl, CancellationToken cancellationToken) => Task.FromResult(true);

    public Task ReleaseAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The system's libsqlite3.so.0 (Debian libsqlite3-0): SQLitePCLRaw's provider imports "sqlite3", which the loader
    /// would look for as libsqlite3.so (only in -dev packages), so the name is resolved here.
    /// </summary>
    private static void UseSystemSqlite()
    {
        if (Interlocked.Exchange(ref s_providerSet, 1) == 1)
        {
            return;
        }

        NativeLibrary.SetDllImportResolver(typeof(SQLitePCL.SQLite3Provider_sqlite3).Assembly, static (name, assembly, path) =>
            name == "sqlite3" && NativeLibrary.TryLoad("libsqlite3.so.0", out var handle) ? handle : IntPtr.Zero);
        SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_sqlite3());
    }

    private static int s_providerSet;

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000", cancellationToken);
        return connection;
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
