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
        "id, owner, namespace, name, status, provider, dir, root, created_at, expires_at, metadata, url, token, agent_pid, agent_start, gone_reason, engine";

    private static readonly string[] Schema =
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
    ];

    private readonly string _connectionString;

    public SqliteSandboxStore(string stateDir)
    {
        UseSystemSqlite();
        var path = Path.Combine(stateDir, "gateway.db");
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL", cancellationToken);
        foreach (var statement in Schema)
        {
            await ExecuteAsync(connection, statement, cancellationToken);
        }

        // Added with the docker provider: the engine holding the sandbox (null for local sandboxes).
        await using var probe = connection.CreateCommand();
        probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('sandboxes') WHERE name = 'engine'";
        if (Convert.ToInt64(await probe.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            await ExecuteAsync(connection, "ALTER TABLE sandboxes ADD COLUMN engine TEXT", cancellationToken);
        }
    }

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
