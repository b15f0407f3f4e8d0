using System.Security.Cryptography;
using System.Text;
using Sandboxd.Hashing;
using Sandboxd.Gateway.Hosting;

namespace Sandboxd.Gateway.Auth;

/// <summary>
/// The accepted API keys, held only as SHA-256 hashes. A key's hash (hex) is also its owner id in the store, so the
/// database never holds a key either.
/// </summary>
internal sealed class ApiKeys
{
    private readonly byte[][] _hashes;

    public ApiKeys(GatewayOptions options)
    {
        _hashes = [.. options.ApiKeys.Distinct(StringComparer.Ordinal).Select(k => Sha256.Hash(Encoding.UTF8.GetBytes(k)))];
    }

    public int Count => _hashes.Length;

    /// <summary>Compares the presented key's hash with every accepted hash in constant time.</summary>
    public bool TryAuthenticate(string? presented, out string owner)
    {
        owner = "";
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        var hash = Sha256.Hash(Encoding.UTF8.GetBytes(presented));
        var match = false;
        foreach (var accepted in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, accepted);
        }

        if (match)
        {
            owner = Convert.ToHexStringLower(hash);
        }

        return match;
    }
}
