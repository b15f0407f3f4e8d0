using Npgsql;

namespace Sandboxd.Gateway.Store;

/// <summary>
/// <c>--store</c>: <c>sqlite:PATH</c> (default <c>sqlite:&lt;state-dir&gt;/gateway.db</c>), a PostgreSQL URL
/// (<c>postgres://</c> or <c>postgresql://user:password@host:port/database?sslmode=…</c>, libpq's form, with
/// <c>?host=/socket/dir</c> for a Unix socket) or an Npgsql connection string (<c>Host=…;Database=…</c>).
/// </summary>
internal static class StoreLocation
{
    /// <summary>The store <paramref name="location"/> names, for the gateway <paramref name="gateway"/>.</summary>
    public static ISandboxStore Open(string? location, string stateDir, string gateway, TimeProvider time)
    {
        if (location is null)
        {
            return new SqliteSandboxStore(Path.Combine(stateDir, "gateway.db"), gateway, time);
        }

        return location.StartsWith("sqlite:", StringComparison.Ordinal)
            ? new SqliteSandboxStore(Path.GetFullPath(location["sqlite:".Length..]), gateway, time)
            : new PostgresSandboxStore(ToConnectionString(location), gateway);
    }

    /// <summary>Null when <paramref name="location"/> can be opened, else what is wrong with it (the password left out).</summary>
    public static string? Check(string location)
    {
        if (location.StartsWith("sqlite:", StringComparison.Ordinal))
        {
            return location.Length > "sqlite:".Length ? null : "sqlite: needs a file path (sqlite:/var/lib/sandboxd/gateway.db)";
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(ToConnectionString(location));
            return builder.Host is { Length: > 0 } ? null : "a PostgreSQL store needs a host (postgres://user:password@host:5432/database)";
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return "expected sqlite:PATH, postgres://user:password@host:port/database or Host=…;Database=… (" + e.Message + ")";
        }
    }

    /// <summary>A postgres:// or postgresql:// URL as an Npgsql connection string; anything else is taken as one already.</summary>
    public static string ToConnectionString(string location)
    {
        var scheme = location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ? "postgres://"
            : location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ? "postgresql://"
            : null;
        if (scheme is null)
        {
            return new NpgsqlConnectionStringBuilder(location).ConnectionString;
        }

        var rest = location[scheme.Length..];
        var query = "";
        if (rest.IndexOf('?', StringComparison.Ordinal) is var q and >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash >= 0 ? rest[..slash] : rest;
        var database = slash >= 0 ? Uri.UnescapeDataString(rest[(slash + 1)..]) : "";
        var builder = new NpgsqlConnectionStringBuilder();
        if (authority.LastIndexOf('@') is var at and >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon >= 0 ? userInfo[..colon] : userInfo);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        var portAt = authority.LastIndexOf(':');
        if (portAt >= 0 && portAt > authority.LastIndexOf(']'))
        {
            builder.Port = int.Parse(authority[(portAt + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            authority = authority[..portAt];
        }

        if (authority.Length > 0)
        {
            builder.Host = Uri.UnescapeDataString(authority.Trim('[', ']'));
        }

        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            var value = Uri.UnescapeDataString(eq >= 0 ? pair[(eq + 1)..] : "");
            switch (key)
            {
                case "host": builder.Host = value; break;
                case "port": builder.Port = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "user": builder.Username = value; break;
                case "password": builder.Password = value; break;
                case "dbname": builder.Database = value; break;
                case "sslmode": builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true); break;
                case "application_name": builder.ApplicationName = value; break;
                case "connect_timeout": builder.Timeout = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                default: builder[key] = value; break; // any other Npgsql keyword (throws for an unknown one)
            }
        }

        return builder.ConnectionString;
    }
}
