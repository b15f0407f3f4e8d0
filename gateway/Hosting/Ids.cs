using Sandboxd.Gateway.Native;

namespace Sandboxd.Gateway.Hosting;

/// <summary>Ids are URL-safe as they are (the client interpolates them into paths without encoding).</summary>
internal static class Ids
{
    public static string New(string prefix) => $"{prefix}_{Convert.ToHexStringLower(LibC.RandomBytes(10))}";
}
