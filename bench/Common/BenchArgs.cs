using System.Globalization;

namespace Sandboxd.Bench;

/// <summary><c>--name value</c> pairs; a name may repeat (<c>--meta</c>).</summary>
internal sealed class Options
{
    private readonly List<(string Name, string Value)> _pairs = [];

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            options._pairs.Add((args[i][2..], args[++i]));
        }

        return options;
    }

    public string Get(string name) => GetAll(name).LastOrDefault() ?? throw new ArgumentException($"--{name} is required");

    public string GetOrDefault(string name, string fallback) => GetAll(name).LastOrDefault() ?? fallback;

    /// <summary>A whole number >= 0; <paramref name="fallback"/> when the option is absent (required without one).</summary>
    public int GetInt(string name, int? fallback = null)
    {
        var text = GetAll(name).LastOrDefault();
        var value = text is null && fallback is { } f ? f : int.Parse(Get(name), CultureInfo.InvariantCulture);
        return value >= 0 ? value : throw new ArgumentException($"--{name} must be >= 0");
    }

    public IEnumerable<string> GetAll(string name) => _pairs.Where(p => p.Name == name).Select(p => p.Value);
}

/// <summary>A measurer's entry point.</summary>
internal static class BenchMain
{
    /// <summary>
    /// Runs <paramref name="command"/> and returns its exit code. A bad argument (a missing or malformed option) prints
    /// its message and exits 2; any other failure prints the whole exception and exits 1.
    /// </summary>
    public static async Task<int> RunAsync(string tool, Func<Task<int>> command)
    {
        try
        {
            return await command().ConfigureAwait(false);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"{tool}: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{tool}: {e}");
            return 1;
        }
    }
}
