namespace Sandboxd.Protocol;

/// <summary>A file or directory (the protocol's <c>FileInfo</c>).</summary>
public sealed record FileEntry(string Name, string Path, long Size, bool IsDir, DateTime ModifiedAt);

/// <summary><c>GET /files?path=</c> data.</summary>
public sealed record FileListData(string Path, IReadOnlyList<FileEntry> Files);

/// <summary><c>POST /files</c>.</summary>
public sealed record WriteFileRequest(string? Path, string? Content = null);

/// <summary><c>GET /files/{path}</c> and <c>POST /files</c> data.</summary>
public sealed record FileData(FileEntry File, string? Content = null);

/// <summary>One operation of <c>POST /files/batch</c>.</summary>
public sealed record BatchFileOperation(string? Path, string? Operation, string? Content = null);

/// <summary><c>POST /files/batch</c>.</summary>
public sealed record BatchFilesRequest(IReadOnlyList<BatchFileOperation>? Files);

/// <summary>The outcome of one batch operation.</summary>
public sealed record BatchFileResult(string Path, bool Success, string? Error = null, FileEntry? File = null);

/// <summary><c>POST /files/batch</c> data.</summary>
public sealed record BatchFilesData(IReadOnlyList<BatchFileResult> Results);

/// <summary><c>GET /env</c> data.</summary>
public sealed record EnvData(string File, IReadOnlyDictionary<string, string> Variables);

/// <summary><c>POST /env</c> and <c>DELETE /env</c> data.</summary>
public sealed record EnvKeysData(string File, IReadOnlyList<string> Keys);

/// <summary><c>POST /env</c> body.</summary>
public sealed record EnvUpdateRequest(IReadOnlyDictionary<string, string>? Variables);

/// <summary><c>DELETE /env</c> body.</summary>
public sealed record EnvDeleteRequest(IReadOnlyList<string>? Keys);

/// <summary><c>POST /files/archive?path=</c> data (an extension): what the extraction wrote.</summary>
public sealed record ArchiveExtractData(string Path, int Files, int Directories, int Symlinks, int Skipped, long Bytes);
