using System.Security.Cryptography;
using System.Text;

namespace Sandboxd.Auth;

/// <summary>
/// The agent's access token(s), held only as SHA-256 hashes and compared in constant time. An <c>--api-key</c> is a
/// second accepted access token (the ComputeSDK gateway sends it when it has no sandbox token).
/// </summary>
internal sealed class AccessTokens
{
    private readonly byte[][] _hashes;

    public AccessTokens(bool enabled, IEnumerable<string> tokens)
    {
        Enabled = enabled;
        _hashes = [.. tokens.Where(t => t.Length > 0).Select(Hash)];
    }

    public bool Enabled { get; }

    public static byte[] Hash(string token) => Hashing.Sha256.Hash(Encoding.UTF8.GetBytes(token));

    public bool Matches(string token)
    {
        var hash = Hash(token);
        var match = false;
        foreach (var candidate in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, candidate);
        }

        return match;
    }

    /// <summary>A new random URL-safe token with 256 bits of entropy.</summary>
    public static string Generate(string prefix) =>
        prefix + Convert.ToBase64String(Native.LibC.RandomBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
