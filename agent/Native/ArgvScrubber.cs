using System.Globalization;
using System.Runtime.Versioning;
using System.Text;

namespace Sandboxd.Native;

/// <summary>
/// Erases secrets (the access token, the API key) from the agent's own command line and environment as the kernel
/// shows them: <c>/proc/&lt;agent&gt;/cmdline</c> and <c>environ</c> read the memory the arguments and variables were
/// copied to at exec, which is still the agent's (the runtime took its own copies). Each occurrence is overwritten in
/// place with <c>*</c> of the same length, so the layout (and the kernel's reading of it) is unchanged.
/// </summary>
/// <remarks>
/// <c>cmdline</c> is readable by every user whatever the agent does (prctl PR_SET_MM, which could move it, is
/// root-only and refuses a smaller range); overwriting is what is left and it works for both. From the moment the
/// agent starts until this runs (before anything is served or spawned) the token is visible to processes that
/// already run on the machine, as for any program given a secret on its command line: the token file or the
/// environment variable are the better way (docs/adr/0007-run-as-user.md).
/// </remarks>
[SupportedOSPlatform("linux")]
internal static unsafe class ArgvScrubber
{
    /// <summary>Overwrites every occurrence of <paramref name="secrets"/>; returns how many it erased, -1 when the kernel does not say where argv and environ are.</summary>
    public static int Scrub(IEnumerable<string> secrets)
    {
        if (Ranges() is not { } ranges)
        {
            return -1;
        }

        var erased = 0;
        foreach (var secret in secrets)
        {
            if (secret.Length < 4)
            {
                continue; // too short to be a token; erasing it would mangle unrelated arguments
            }

            var needle = Encoding.UTF8.GetBytes(secret);
            foreach (var (start, end) in ranges)
            {
                var region = new Span<byte>((void*)start, (int)(end - start));
                int at;
                while ((at = region.IndexOf(needle)) >= 0)
                {
                    region.Slice(at, needle.Length).Fill((byte)'*');
                    region = region[(at + needle.Length)..];
                    erased++;
                }
            }
        }

        return erased;
    }

    /// <summary>arg_start, arg_end, env_start, env_end: fields 48 to 51 of /proc/self/stat (Linux 3.5+).</summary>
    private static (nuint Start, nuint End)[]? Ranges()
    {
        var stat = LibC.TryReadSmallFile("/proc/self/stat", 4096); // ~300 bytes: fields 48-51 are near the end
        var close = stat?.LastIndexOf(')') ?? -1;
        if (close < 0)
        {
            return null;
        }

        var fields = stat![(close + 2)..].Split(' ');
        if (fields.Length < 49)
        {
            return null;
        }

        var values = new nuint[4];
        for (var i = 0; i < 4; i++)
        {
            if (!nuint.TryParse(fields[45 + i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
            {
                return null;
            }
        }

        return [.. new[] { (values[0], values[1]), (values[2], values[3]) }.Where(r => r.Item1 != 0 && r.Item2 > r.Item1 && r.Item2 - r.Item1 < 16 << 20)];
    }
}
