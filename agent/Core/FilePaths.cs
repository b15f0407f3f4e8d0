using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace Sandboxd.Core;

/// <summary>
/// Decodes the path of <c>/files/{encodedPath}</c> from the raw request target: everything after the literal
/// <c>/files/</c> prefix, percent-decoded strictly as UTF-8 (a leading "/" after the prefix = absolute path).
/// Route templates would merge the double slash of absolute paths, so they are not used for this.
/// </summary>
internal static class FilePaths
{
    public static bool TryGetRoutePath(HttpContext http, SandboxContext sandbox, out string path, out string? error)
    {
        path = "";
        error = null;
        var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }

        var prefix = http.Request.PathBase.Value + "/files/"; // the /s/<subdomain> prefix, if any (URL-safe, so raw = decoded)
        if (!raw.StartsWith(prefix, StringComparison.Ordinal))
        {
            error = "The file path must follow /files/.";
            return false;
        }

        if (!TryPercentDecode(raw[prefix.Length..], out var decoded))
        {
            error = "The file path is not valid UTF-8 after percent-decoding.";
            return false;
        }

        return TryResolve(sandbox, decoded, out path, out error);
    }

    /// <summary>Validates and resolves a path given in a body or query (absolute as-is, relative against the sandbox root).</summary>
    public static bool TryResolve(SandboxContext sandbox, string? requested, out string path, out string? error)
    {
        path = "";
        error = null;
        if (string.IsNullOrEmpty(requested))
        {
            error = "A file path is required.";
            return false;
        }

        if (requested.Contains('\0', StringComparison.Ordinal))
        {
            error = "File paths must not contain NUL characters.";
            return false;
        }

        if (requested.Contains('\uFFFD', StringComparison.Ordinal))
        {
            error = "The file path is not valid UTF-8.";
            return false;
        }

        path = sandbox.Resolve(requested);
        if (path.Length > 1)
        {
            path = Path.TrimEndingDirectorySeparator(path);
        }

        return true;
    }

    private static bool TryPercentDecode(string text, out string decoded)
    {
        decoded = "";
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '%' && i + 2 < text.Length && IsHex(text[i + 1]) && IsHex(text[i + 2]))
            {
                bytes.Add((byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2])));
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes.Add((byte)c);
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
