using System.Text;
using System.Text.Json;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Sandboxes;

/// <summary>
/// Applies the setup payload at boot — <c>COMPUTESDK_SETUP_B64</c> (base64 of UTF-8 JSON) or <c>--setup FILE</c>:
/// overlays are created and servers started in the main sandbox, and <c>/ready</c> reports them. A malformed payload
/// is logged clearly and the agent keeps serving.
/// </summary>
internal sealed class BootSetup(AgentOptions options, SandboxRegistry registry, ISandboxOverlays overlays, ISandboxServers servers, ILogger<BootSetup> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var (json, origin) = Read();
        if (json is null)
        {
            return;
        }

        SetupPayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize(json, ProtocolJsonContext.Default.SetupPayload);
        }
        catch (JsonException e)
        {
            logger.SetupInvalid(origin, e.Message);
            return;
        }

        foreach (var overlay in payload?.Overlays ?? [])
        {
            var (created, error) = await overlays.CreateAsync(registry.Main, overlay, cancellationToken).ConfigureAwait(false);
            if (created is null)
            {
                logger.SetupItemFailed(origin, $"overlay {overlay.Source} → {overlay.Target}", error ?? "");
            }
        }

        foreach (var server in payload?.Servers ?? [])
        {
            if (await servers.StartAsync(registry.Main, server, cancellationToken).ConfigureAwait(false) is { } error)
            {
                logger.SetupItemFailed(origin, $"server {server.Slug}", error);
            }
        }

        logger.SetupApplied(origin, payload?.Overlays?.Count ?? 0, payload?.Servers?.Count ?? 0);
    }

    private (string? Json, string Origin) Read()
    {
        if (options.SetupFile is { } file)
        {
            try
            {
                return (File.ReadAllText(file), file);
            }
            catch (IOException e)
            {
                logger.SetupInvalid(file, e.Message);
                return (null, file);
            }
        }

        var b64 = Environment.GetEnvironmentVariable("COMPUTESDK_SETUP_B64");
        if (string.IsNullOrWhiteSpace(b64))
        {
            return (null, "");
        }

        try
        {
            return (Encoding.UTF8.GetString(Convert.FromBase64String(b64.Trim())), "COMPUTESDK_SETUP_B64");
        }
        catch (FormatException)
        {
            logger.SetupInvalid("COMPUTESDK_SETUP_B64", "not valid base64");
            return (null, "COMPUTESDK_SETUP_B64");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

internal static partial class SandboxesLog
{
    [LoggerMessage(1800, LogLevel.Error, "Setup payload from {Origin} is malformed and was ignored: {Error}")]
    public static partial void SetupInvalid(this ILogger logger, string origin, string error);

    [LoggerMessage(1801, LogLevel.Warning, "Setup from {Origin}: {Item} failed: {Error}")]
    public static partial void SetupItemFailed(this ILogger logger, string origin, string item, string error);

    [LoggerMessage(1802, LogLevel.Information, "Setup from {Origin} applied: {Overlays} overlay(s), {Servers} server(s)")]
    public static partial void SetupApplied(this ILogger logger, string origin, int overlays, int servers);
}
