using System.Globalization;

namespace Sandboxd.Gateway.Docker;

/// <summary>Which network an engine's sandboxes use: a published port on the default bridge, or the host's network.</summary>
internal enum EngineNetwork { Auto, Bridge, Host }

/// <summary>
/// One <c>--docker-host NAME=ENDPOINT[,capacity=N][,tls=DIR][,address=HOST][,network=bridge|host]</c>. ENDPOINT is
/// <c>unix:///path/docker.sock</c> or <c>tcp://host:port</c> (which needs <c>tls=DIR</c> holding Docker's
/// <c>ca.pem</c>, <c>cert.pem</c>, <c>key.pem</c>).
/// </summary>
internal sealed record DockerHostSpec(
    string Name,
    string Endpoint,
    int Capacity,
    string? SocketPath,
    string? TcpHost,
    int TcpPort,
    string? TlsDir,
    string Address,
    EngineNetwork Network)
{
    public const int DefaultCapacity = 10;

    public static DockerHostSpec Parse(string value)
    {
        var parts = value.Split(',');
        var eq = parts[0].IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == parts[0].Length - 1)
        {
            throw new FormatException("expected NAME=ENDPOINT[,capacity=N][,tls=DIR][,address=HOST][,network=bridge|host]");
        }

        var name = parts[0][..eq];
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new FormatException($"engine name '{name}' may hold only letters, digits, '-', '_' and '.'");
        }

        var endpoint = parts[0][(eq + 1)..];
        int capacity = DefaultCapacity;
        string? tls = null, address = null;
        var network = EngineNetwork.Auto;
        foreach (var option in parts.Skip(1))
        {
            var (key, v) = option.IndexOf('=', StringComparison.Ordinal) is var i and > 0 ? (option[..i], option[(i + 1)..]) : (option, "");
            switch (key)
            {
                case "capacity":
                    capacity = int.Parse(v, CultureInfo.InvariantCulture);
                    if (capacity < 1)
                    {
                        throw new FormatException("capacity must be at least 1");
                    }

                    break;
                case "tls": tls = Path.GetFullPath(v); break;
                case "address": address = v; break;
                case "network":
                    network = v switch
                    {
                        "bridge" => EngineNetwork.Bridge,
                        "host" => EngineNetwork.Host,
                        _ => throw new FormatException("network must be bridge or host"),
                    };
                    break;
                default: throw new FormatException($"unknown engine option '{key}'");
            }
        }

        if (endpoint.StartsWith("unix://", StringComparison.Ordinal))
        {
            var socket = endpoint["unix://".Length..];
            return Path.IsPathFullyQualified(socket)
                ? new DockerHostSpec(name, endpoint, capacity, socket, null, 0, null, address ?? "127.0.0.1", network)
                : throw new FormatException("unix:// needs an absolute socket path (unix:///var/run/docker.sock)");
        }

        if (endpoint.StartsWith("tcp://", StringComparison.Ordinal) && Uri.TryCreate("https://" + endpoint["tcp://".Length..], UriKind.Absolute, out var uri))
        {
            if (tls is null || !File.Exists(Path.Combine(tls, "ca.pem")) || !File.Exists(Path.Combine(tls, "cert.pem")) || !File.Exists(Path.Combine(tls, "key.pem")))
            {
                throw new FormatException("tcp:// engines need tls=DIR with ca.pem, cert.pem and key.pem (an engine's API without TLS client certificates is root on that host for anyone who reaches it)");
            }

            // Read now, so a wrong file is a clear start-up error and not a crash of the host.
            try
            {
                var (ca, client) = DockerTls.Load(tls);
                ca.Dispose();
                client.Dispose();
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new FormatException($"tls={tls}: cannot use ca.pem, cert.pem and key.pem: {e.Message}");
            }

            return new DockerHostSpec(name, endpoint, capacity, null, uri.Host, uri.IsDefaultPort ? 2376 : uri.Port, tls, address ?? uri.Host, network);
        }

        throw new FormatException("ENDPOINT must be unix:///path or tcp://host:port");
    }
}

/// <summary>The <c>--provider docker</c> options.</summary>
internal sealed class DockerOptions
{
    public List<DockerHostSpec> Hosts { get; } = [];
    public string Image { get; set; } = "sandboxd:latest";
    public string Pull { get; set; } = "missing";
    public long? MemoryMb { get; set; }
    public double? Cpus { get; set; }
    public long? Pids { get; set; } = 1024;

    /// <summary>The user the agent in each container runs the workload as (<c>--run-as</c>, docs/adr/0007-run-as-user.md);
    /// the image of Dockerfile.agent has <c>sandbox</c>. Empty: no run-as (the agent warns that it is not isolated).</summary>
    public string RunAs { get; set; } = "sandbox";

    /// <summary>How often each engine is pinged, and after how many failures in a row it is marked down.</summary>
    public TimeSpan HealthInterval { get; set; } = TimeSpan.FromSeconds(2);
    public int HealthFailures { get; set; } = 3;

    /// <summary>How old a container labelled by this gateway without a live record must be before it is removed.</summary>
    public TimeSpan OrphanGrace { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>Docker's TLS files of a <c>tcp://</c> engine: the engine's CA and the gateway's client certificate and key.</summary>
internal static class DockerTls
{
    /// <remarks>The CA file holds a certificate only: <c>CreateFromPemFile(path)</c> would look for a key in it too.</remarks>
    public static (System.Security.Cryptography.X509Certificates.X509Certificate2 Ca, System.Security.Cryptography.X509Certificates.X509Certificate2 Client) Load(string dir) =>
        (System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir, "ca.pem"))),
         System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem")));
}
