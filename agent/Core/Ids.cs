
namespace Sandboxd.Core;

/// <summary>URL-safe ids in the spec's CHOICE formats (<c>term_</c>, <c>cmd_</c>, <c>watcher_</c>… + 12 lowercase hex).</summary>
internal static class Ids
{
    public static string New(string prefix) => prefix + Convert.ToHexStringLower(Native.LibC.RandomBytes(6));

    public static string Timestamp(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
