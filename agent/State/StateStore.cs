using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sandboxd.State;

/// <summary>
/// The only writer of the state directory: what must outlive the process (access token file, session-token hashes,
/// server specs, child sandbox records). Every write is atomic: temp file in the same directory, fsync, rename.
/// </summary>
internal sealed class StateStore(string directory)
{
    public string Directory { get; } = directory;

    public string PathOf(string name) => Path.Combine(Directory, name);

    public void EnsureDirectory()
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public void WriteText(string name, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite) =>
        WriteBytes(name, Encoding.UTF8.GetBytes(text), mode);

    public void Write<T>(string name, T value, JsonTypeInfo<T> type) =>
        WriteBytes(name, JsonSerializer.SerializeToUtf8Bytes(value, type), UnixFileMode.UserRead | UnixFileMode.UserWrite);

    public T? Read<T>(string name, JsonTypeInfo<T> type)
    {
        var path = PathOf(name);
        if (!File.Exists(path))
        {
            return default;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize(stream, type);
    }

    public string? ReadText(string name)
    {
        var path = PathOf(name);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    public void Delete(string name) => File.Delete(PathOf(name));

    private void WriteBytes(string name, ReadOnlySpan<byte> bytes, UnixFileMode mode)
    {
        EnsureDirectory();
        var final = PathOf(name);
        var temp = PathOf($".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
