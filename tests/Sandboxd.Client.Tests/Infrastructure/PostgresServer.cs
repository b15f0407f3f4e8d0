using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Sandboxd.Client.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server of the tests' own: <c>initdb</c> into a temp dir (as the <c>postgres</c> user when the
/// tests run as root), <c>pg_ctl start</c> on a free TCP port on 127.0.0.1 with its Unix socket in that dir, a login
/// role with a password (SCRAM over TCP, as a deployment would have), <c>pg_ctl stop -m immediate</c> and removal at the
/// end. Debian's binaries are looked for in /usr/lib/postgresql/*/bin. <see cref="StartOrSkipAsync"/> skips the test
/// (saying so) where they are missing, and fails instead under CI (CI=true), whose .ci/run installs them.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);
    private const string Role = "sandboxd";

    private readonly string _bin;
    private readonly string _dir;
    private readonly string? _runAs;

    private PostgresServer(string bin, string dir, string? runAs, int port)
    {
        _bin = bin;
        _dir = dir;
        _runAs = runAs;
        Port = port;
        Password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
    }

    public int Port { get; }
    public string Password { get; }

    /// <summary>The directory holding Debian's PostgreSQL binaries (newest major version), or null.</summary>
    public static string? FindBinaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;

    public static async Task<PostgresServer> StartOrSkipAsync()
    {
        var bin = FindBinaries();
        if (bin is null)
        {
            const string message = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): SKIPPING the PostgreSQL store tests; apt-get install postgresql";
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                throw new InvalidOperationException(message + " (CI must run them: .ci/run installs it)");
            }

            await Console.Error.WriteLineAsync("*** " + message);
            Assert.Skip(message);
        }

        var runAs = Environment.UserName == "root" ? "postgres" : null;
        var dir = Directory.CreateTempSubdirectory("sandboxd-pg-").FullName;
        if (runAs is not null)
        {
            await RunAsync("chown", [runAs, dir], null);
        }

        var server = new PostgresServer(bin, dir, runAs, FreePort());
        try
        {
            var passwordFile = Path.Combine(dir, "pwfile");
            await File.WriteAllTextAsync(passwordFile, server.Password + "\n");
            if (runAs is not null)
            {
                await RunAsync("chown", [runAs, passwordFile], null);
            }

            await server.RunToolAsync("initdb", "-D", server.DataDir, "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth-local=trust",
                "--auth-host=scram-sha-256", "--pwfile", passwordFile);
            // fsync off: a throwaway server on a shared test machine; the store's own durability is not what is under test.
            await server.StartServerAsync();
            await server.SqlAsync("postgres", $"CREATE ROLE {Role} LOGIN PASSWORD '{server.Password}'");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private string DataDir => Path.Combine(_dir, "data");

    /// <summary>pg_ctl start (waits until it accepts connections).</summary>
    public Task StartServerAsync() =>
        RunToolAsync("pg_ctl", "-D", DataDir, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start");

    /// <summary>pg_ctl stop -m immediate: the database goes away as in a crash or an outage.</summary>
    public Task StopServerAsync() => RunToolAsync("pg_ctl", "-D", DataDir, "-m", "immediate", "-w", "-t", "30", "stop");

    /// <summary>A new empty database owned by the gateways' role; returns its <c>postgres://</c> URL.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = prefix + "_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await SqlAsync("postgres", $"CREATE DATABASE {name} OWNER {Role}");
        return $"postgres://{Role}:{Password}@127.0.0.1:{Port}/{name}";
    }

    /// <summary>Runs <paramref name="sql"/> through psql (Unix socket, as the superuser); returns its unaligned output.</summary>
    public Task<string> SqlAsync(string database, string sql) =>
        RunToolAsync("psql", "-h", _dir, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", "-d", database,
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql);

    /// <summary>The database name in a URL made by <see cref="CreateDatabaseAsync"/>.</summary>
    public static string DatabaseOf(string url) => url[(url.LastIndexOf('/') + 1)..];

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
            {
                await RunToolAsync("pg_ctl", "-D", DataDir, "-m", "immediate", "-w", "-t", "30", "stop");
            }
        }
        finally
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // a temp dir; a leftover is harmless
            }
        }
    }

    private Task<string> RunToolAsync(string tool, params string[] arguments) =>
        RunAsync(Path.Combine(_bin, tool), arguments, _runAs);

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> arguments, string? runAs)
    {
        var info = runAs is null ? new ProcessStartInfo(file) : new ProcessStartInfo("runuser", ["-u", runAs, "--", file]);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.WorkingDirectory = "/";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not run {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(CommandTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in {CommandTimeout.TotalSeconds} s.");
        }

        return process.ExitCode == 0
            ? (await stdout).Trim()
            : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stderr}{await stdout}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
