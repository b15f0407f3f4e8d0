using System.Globalization;

namespace Sandboxd.Native;

/// <summary>Signal names of Linux (x86-64 and arm64 share these numbers).</summary>
internal static class SignalNames
{
    private static readonly Dictionary<string, int> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8, ["KILL"] = 9,
        ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15, ["CHLD"] = 17, ["CONT"] = 18,
        ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22, ["URG"] = 23, ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26,
        ["PROF"] = 27, ["WINCH"] = 28, ["IO"] = 29, ["PWR"] = 30, ["SYS"] = 31,
    };

    /// <summary><c>SIGKILL</c> for 9; the number as text for a signal without a name here (real-time signals).</summary>
    public static string NameOf(int number) =>
        ByName.FirstOrDefault(p => p.Value == number).Key is { } known ? "SIG" + known : number.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out int number, out string name)
    {
        number = 0;
        name = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var trimmed = text.Trim();
        if (int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            var parsed = number;
            name = ByName.FirstOrDefault(p => p.Value == parsed).Key is { } known ? "SIG" + known : trimmed;
            return parsed is >= 1 and <= 64;
        }

        var bare = trimmed.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? trimmed[3..] : trimmed;
        if (ByName.TryGetValue(bare, out number))
        {
            name = "SIG" + bare.ToUpperInvariant();
            return true;
        }

        return false;
    }
}
