using System.Text;

namespace Sandboxd.Reliability;

/// <summary>
/// The suite's figures: each test records its lines here; every record rewrites tests/.logs/reliability-figures.txt,
/// so the file holds whatever was measured even when a later test fails. tests/run.sh prints the file at the end.
/// </summary>
public static class Figures
{
    private static readonly Lock Gate = new();
    private static readonly List<string> Lines = [];

    public static string FilePath { get; } = Path.Combine(Sandboxd.Testing.AgentBinary.RepoRoot, "tests", ".logs", "reliability-figures.txt");

    public static void Record(string section, string line, ITestOutputHelper? output = null)
    {
        var text = $"{section,-12} {line}";
        output?.WriteLine(text);
        lock (Gate)
        {
            Lines.Add(text);
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            var content = new StringBuilder()
                .AppendLine($"sandboxd reliability figures ({DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z, {Environment.ProcessorCount} cores, load {LoadAverage()})");
            foreach (var l in Lines)
            {
                content.AppendLine(l);
            }

            File.WriteAllText(FilePath, content.ToString());
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
