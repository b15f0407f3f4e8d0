using Sandboxd.Core;
using Sandboxd.Native;

namespace Sandboxd.Terminals;

/// <summary>Validates what a caller asked to run and turns it into an <see cref="ExecSpec"/> (or a 400 message).</summary>
internal static class ExecSpecFactory
{
    public const string DefaultShell = "/bin/sh";

    /// <summary>The longest run timeout a timer can hold (uint.MaxValue - 1 ms ≈ 49.7 days), rounded down to 49 days.</summary>
    public const long MaxTimeoutMs = 49L * 24 * 3600 * 1000;

    public static ExecSpec? TryCreate(
        SandboxContext context, string? command, string? shell, string? cwd, IReadOnlyDictionary<string, string>? env,
        double? timeoutSeconds, long? timeoutMs, out string? error, double? memoryMb = null, double? pidsMax = null)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(command))
        {
            error = "Field 'command' is required and must be a non-empty string.";
            return null;
        }

        if (command.Contains('\0', StringComparison.Ordinal) || (shell?.Contains('\0', StringComparison.Ordinal) ?? false))
        {
            error = "Field 'command' must not contain NUL characters.";
            return null;
        }

        string workingDirectory;
        if (string.IsNullOrEmpty(cwd))
        {
            workingDirectory = context.Root;
        }
        else
        {
            if (cwd.Contains('\0', StringComparison.Ordinal))
            {
                error = "Field 'cwd' must not contain NUL characters.";
                return null;
            }

            workingDirectory = context.Resolve(cwd);
            if (!Directory.Exists(workingDirectory))
            {
                error = File.Exists(workingDirectory)
                    ? $"cwd '{cwd}' is not a directory."
                    : $"cwd '{cwd}' does not exist (resolved to {workingDirectory}).";
                return null;
            }
        }

        if (env is not null)
        {
            foreach (var (key, value) in env)
            {
                if (key.Length == 0 || key.Contains('=', StringComparison.Ordinal) || key.Contains('\0', StringComparison.Ordinal)
                    || value.Contains('\0', StringComparison.Ordinal))
                {
                    error = $"Invalid environment variable '{key}': names must be non-empty without '=', and no NUL characters anywhere.";
                    return null;
                }
            }
        }

        TimeSpan? timeout = null;
        if (timeoutMs is { } ms)
        {
            if (ms <= 0 || ms > MaxTimeoutMs)
            {
                error = $"Field 'timeout_ms' must be a positive number of milliseconds, at most {MaxTimeoutMs} (49 days); omit it for no limit.";
                return null;
            }

            timeout = TimeSpan.FromMilliseconds(ms);
        }
        else if (timeoutSeconds is { } s)
        {
            if (s <= 0 || double.IsNaN(s) || s * 1000 > MaxTimeoutMs)
            {
                error = $"Field 'timeout' must be a positive number of seconds, at most {MaxTimeoutMs / 1000} (49 days); omit it for no limit.";
                return null;
            }

            timeout = TimeSpan.FromMilliseconds(s * 1000);
        }

        var limits = ResourceLimits.TryCreate(memoryMb, pidsMax, CgroupHost.Current, out error);
        if (error is not null)
        {
            return null;
        }

        return new ExecSpec(command, string.IsNullOrEmpty(shell) ? DefaultShell : shell, workingDirectory, env, timeout, limits);
    }
}
