using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Sandboxd.Native;
using Sandboxd.Ports;

namespace Sandboxd.Tests.Ports;

/// <summary>
/// In-process tests of the port scanner's two sources of listening sockets — netlink sock_diag and the /proc/net/tcp
/// fallback — against the real kernel state of this machine: real sockets, a real child process, hundreds of real
/// TIME_WAIT sockets (what health checks leave behind, and what made /proc/net/tcp expensive).
/// </summary>
public sealed class ListenerSourceTests
{
    private const int TimeWaitConnections = 300;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact(Timeout = 60_000)]
    public void Netlink_and_proc_report_the_same_listeners_with_many_TIME_WAIT_sockets_present()
    {
        using var v4 = Listen(IPAddress.Loopback);
        using var v4Any = Listen(IPAddress.Any);
        using var v6 = Listen(IPAddress.IPv6Loopback);
        using var dual = Listen(IPAddress.IPv6Any, dualMode: true);
        MakeTimeWaitSockets(v4, TimeWaitConnections);
        CountTimeWait().Should().BeGreaterThanOrEqualTo(TimeWaitConnections, "the machine state the scanner must see through");

        using var source = new ListenerSource(NullLogger.Instance);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            // Other programs of this machine open and close listeners: compare netlink with /proc read on both sides of it
            // and identical (a stable moment).
            var before = Sorted(source.ReadProc);
            var errno = 0;
            var netlink = Sorted(into => errno = source.ReadNetlink(into));
            var after = Sorted(source.ReadProc);
            errno.Should().Be(0, "netlink sock_diag works on this machine ({0})", Marshal.GetPInvokeErrorMessage(errno));
            if (before.SequenceEqual(after))
            {
                netlink.Should().Equal(before, "netlink and /proc/net/tcp{,6} describe the same listeners");
                break;
            }

            deadline.Elapsed.Should().BeLessThan(Bound, "the machine's listeners keep changing");
        }

        var seen = Sorted(into => source.ReadNetlink(into));
        seen.Should().Contain(new ListeningSocket(Port(v4), ListeningSocket.MapV4(0x7F000001), InodeOf(v4)));
        seen.Should().Contain(new ListeningSocket(Port(v4Any), ListeningSocket.MapV4(0), InodeOf(v4Any)));
        seen.Should().Contain(new ListeningSocket(Port(v6), UInt128.One, InodeOf(v6)));
        seen.Should().Contain(new ListeningSocket(Port(dual), UInt128.Zero, InodeOf(dual)));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_scanner_sees_a_child_listen_on_v4_and_v6_and_sees_both_close(bool netlink)
    {
        using var timeWait = Listen(IPAddress.Loopback);
        MakeTimeWaitSockets(timeWait, TimeWaitConnections);
        using var scanner = new PortScanner(NullLogger<PortScanner>.Instance, netlink);
        var changes = new List<PortChange>();
        using var subscription = scanner.Subscribe(change =>
        {
            lock (changes)
            {
                changes.Add(change);
            }
        });
        scanner.Source.UsesNetlink.Should().Be(netlink);

        using var child = StartListeningChild(out var v4Port, out var v6Port);
        try
        {
            await SeeOpenAndClose(scanner, changes, child, v4Port, v6Port);
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill();
            }
        }

        scanner.Source.UsesNetlink.Should().Be(netlink, "netlink was not given up on");
    }

    private static async Task SeeOpenAndClose(PortScanner scanner, List<PortChange> changes, Process child, int v4Port, int v6Port)
    {
        var v4Open = await WaitFor(scanner, changes, c => c.Opened && c.Port.Port == v4Port && c.Port.Address == "127.0.0.1");
        var v6Open = await WaitFor(scanner, changes, c => c.Opened && c.Port.Port == v6Port && c.Port.Address == "::1");
        v4Open.Port.Pid.Should().Be(child.Id);
        v6Open.Port.Pid.Should().Be(child.Id);
        v4Open.Port.LoopbackOnly.Should().BeTrue();
        scanner.Current.Should().Contain(p => p.Port == v6Port && p.Address == "::1");

        child.Kill();
        child.WaitForExit(Bound).Should().BeTrue();
        await WaitFor(scanner, changes, c => !c.Opened && c.Port.Port == v4Port && c.Port.Inode == v4Open.Port.Inode);
        await WaitFor(scanner, changes, c => !c.Opened && c.Port.Port == v6Port && c.Port.Inode == v6Open.Port.Inode);
        scanner.Current.Should().NotContain(p => p.Port == v4Port || p.Port == v6Port);
    }

    [Fact]
    public void The_proc_parser_reads_LISTEN_lines_of_v4_and_v6_and_skips_the_rest()
    {
        var found = new List<ListeningSocket>();
        ProcNetTcp.ParseLine(Bytes("   1: 0100007F:9E19 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3619082 1 0000000054873e06 100 0 0 10 0"), v6: false, found);
        ProcNetTcp.ParseLine(Bytes("   2: 0100007F:9E1A 0100007F:0050 06 00000000:00000000 03:00000F5F 00000000     0        0 0 3 0000000082d56961"), v6: false, found);
        ProcNetTcp.ParseLine(Bytes("   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77 1 0000000000000000 100 0 0 10 0"), v6: true, found);
        ProcNetTcp.ParseLine(Bytes("   1: 0000000000000000FFFF00000100007F:BD9E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000"), v6: true, found);
        ProcNetTcp.ParseLine(Bytes("garbage 0A"), v6: false, found);

        found.Should().Equal(
            new ListeningSocket(0x9E19, ListeningSocket.MapV4(0x7F000001), 3619082),
            new ListeningSocket(8080, UInt128.One, 77),
            new ListeningSocket(0xBD9E, ListeningSocket.MapV4(0x7F000001), 78));
        PortScanner.FormatAddress(found[0].Address).Should().Be("127.0.0.1");
        PortScanner.FormatAddress(found[1].Address).Should().Be("::1");
        PortScanner.FormatAddress(found[2].Address).Should().Be("127.0.0.1", "a v4-mapped v6 listener is reported as v4, as before");
    }

    [Fact]
    public void The_netlink_parser_skips_other_requests_replies_and_returns_the_error_of_its_own()
    {
        var datagram = new List<byte>();
        datagram.AddRange(Message(SockDiag.SOCK_DIAG_BY_FAMILY, sequence: 6, DiagMessage(SockDiag.AF_INET, SockDiag.TCP_LISTEN, 80, [127, 0, 0, 1], 5)));
        datagram.AddRange(Message(SockDiag.SOCK_DIAG_BY_FAMILY, sequence: 7, DiagMessage(SockDiag.AF_INET, SockDiag.TCP_LISTEN, 81, [127, 0, 0, 1], 6)));
        datagram.AddRange(Message(SockDiag.SOCK_DIAG_BY_FAMILY, sequence: 7, DiagMessage(SockDiag.AF_INET, 6 /* TIME_WAIT */, 82, [127, 0, 0, 1], 7)));
        var found = new List<ListeningSocket>();
        var interrupted = false;

        SockDiag.Parse([.. datagram], 7, found, ref interrupted).Should().Be(-1, "no NLMSG_DONE yet: more datagrams follow");
        found.Should().Equal(new ListeningSocket(81, ListeningSocket.MapV4(0x7F000001), 6));

        SockDiag.Parse(Message(SockDiag.NLMSG_ERROR, 7, BitConverter.GetBytes(-2)), 7, found, ref interrupted).Should().Be(LibC.ENOENT);
        SockDiag.Parse(Message(SockDiag.NLMSG_DONE, 7, BitConverter.GetBytes(0)), 7, found, ref interrupted).Should().Be(0);
        SockDiag.Parse(Message(SockDiag.NLMSG_DONE, 7, []).AsSpan(0, 10), 7, found, ref interrupted).Should().Be(-1, "a truncated header is not a message");
        var bad = Message(SockDiag.NLMSG_DONE, 7, BitConverter.GetBytes(0));
        bad[0] = 200; // nlmsg_len past the datagram
        SockDiag.Parse(bad, 7, found, ref interrupted).Should().Be(SockDiag.EBADMSG);
        interrupted.Should().BeFalse();
    }

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] Message(ushort type, uint sequence, byte[] payload)
    {
        var message = new byte[(SockDiag.NlMsgHdrSize + payload.Length + 3) & ~3];
        BitConverter.TryWriteBytes(message.AsSpan(0), (uint)(SockDiag.NlMsgHdrSize + payload.Length)).Should().BeTrue();
        BitConverter.TryWriteBytes(message.AsSpan(4), type).Should().BeTrue();
        BitConverter.TryWriteBytes(message.AsSpan(8), sequence).Should().BeTrue();
        payload.CopyTo(message, SockDiag.NlMsgHdrSize);
        return message;
    }

    private static byte[] DiagMessage(int family, int state, ushort port, byte[] address, uint inode)
    {
        var message = new byte[SockDiag.InetDiagMsgSize];
        message[0] = (byte)family;
        message[1] = (byte)state;
        message[4] = (byte)(port >> 8);
        message[5] = (byte)port;
        address.CopyTo(message, 8);
        BitConverter.TryWriteBytes(message.AsSpan(68), inode).Should().BeTrue();
        return message;
    }

    private static List<ListeningSocket> Sorted(Action<List<ListeningSocket>> read)
    {
        var list = new List<ListeningSocket>();
        read(list);
        return [.. list.OrderBy(s => s.Port).ThenBy(s => s.Address).ThenBy(s => s.Inode)];
    }

    private static Socket Listen(IPAddress address, bool dualMode = false)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (dualMode)
        {
            socket.DualMode = true;
        }

        socket.Bind(new IPEndPoint(address, 0));
        socket.Listen(512);
        return socket;
    }

    private static int Port(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    private static long InodeOf(Socket socket)
    {
        var target = new FileInfo($"/proc/self/fd/{socket.SafeHandle.DangerousGetHandle()}").LinkTarget!;
        return long.Parse(target.AsSpan(8, target.Length - 9), System.Globalization.CultureInfo.InvariantCulture); // socket:[N]
    }

    /// <summary>Connects and closes the client side first, so every connection leaves a TIME_WAIT socket behind.</summary>
    private static void MakeTimeWaitSockets(Socket listener, int count)
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, Port(listener));
        for (var i = 0; i < count; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(endpoint);
            using var server = listener.Accept();
            client.Close();
            server.Close();
        }
    }

    private static int CountTimeWait() =>
        File.ReadLines("/proc/net/tcp").Skip(1).Count(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 3 } f && f[3] == "06");

    private static Process StartListeningChild(out int v4Port, out int v6Port)
    {
        const string script = """
            import socket, sys
            a = socket.socket(socket.AF_INET); a.bind(("127.0.0.1", 0)); a.listen()
            b = socket.socket(socket.AF_INET6); b.bind(("::1", 0)); b.listen()
            print(a.getsockname()[1], b.getsockname()[1], flush=True)
            sys.stdin.read()
            """;
        var child = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        var line = child.StandardOutput.ReadLineAsync().WaitAsync(Bound).GetAwaiter().GetResult()!;
        var ports = line.Split(' ');
        v4Port = int.Parse(ports[0], System.Globalization.CultureInfo.InvariantCulture);
        v6Port = int.Parse(ports[1], System.Globalization.CultureInfo.InvariantCulture);
        return child;
    }

    /// <summary>Scans until a change matching <paramref name="match"/> was reported (bounded).</summary>
    private static async Task<PortChange> WaitFor(PortScanner scanner, List<PortChange> changes, Func<PortChange, bool> match)
    {
        var found = await Eventually.UntilAsync(() =>
        {
            scanner.Scan();
            lock (changes)
            {
                return changes.FirstOrDefault(match);
            }
        }, change => change is not null, Bound, "the change, within a few scans", TestContext.Current.CancellationToken);
        return found!;
    }

}
