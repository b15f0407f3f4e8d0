using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Signals;

internal static class SignalEndpoints
{
    private static JsonHttpResult<Envelope<SignalStatusData>> Status(HttpContext http, SandboxContext sandbox, SignalService signals, PublicUrls urls, string message) =>
        Api.Ok(new SignalStatusData(signals.IsActive(sandbox) ? "active" : "stopped", SignalService.Channel, urls.WebSocketUrl(http)),
            ProtocolJsonContext.Default.EnvelopeSignalStatusData, message);

    public static JsonHttpResult<Envelope<SignalStatusData>> Start(HttpContext http, SandboxContext sandbox, SignalService signals, PublicUrls urls)
    {
        signals.Start(sandbox);
        return Status(http, sandbox, signals, urls, "signal service started");
    }

    public static JsonHttpResult<Envelope<SignalStatusData>> GetStatus(HttpContext http, SandboxContext sandbox, SignalService signals, PublicUrls urls) =>
        Status(http, sandbox, signals, urls, "ok");

    public static JsonHttpResult<Envelope<SignalStatusData>> Stop(HttpContext http, SandboxContext sandbox, SignalService signals, PublicUrls urls)
    {
        signals.Stop(sandbox);
        return Status(http, sandbox, signals, urls, "signal service stopped");
    }

    public static async Task<Results<JsonHttpResult<Envelope<PortSignalData>>, JsonHttpResult<ErrorResponse>>> PortAsync(HttpContext http, SandboxContext sandbox, SignalService signals, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.PortSignalRequest, cancellationToken);

        var request = body;
        if (!TryPort(request.Port, out var port))
        {
            return Api.BadRequest("Field 'port' must be a TCP port number (1-65535).");
        }

        if (request.Type is not ("open" or "close"))
        {
            return Api.BadRequest("Field 'type' must be \"open\" or \"close\".");
        }

        var url = request.Url ?? "";
        signals.EmitPort(sandbox, port, request.Type, url);
        return Api.Ok(new PortSignalData(port, request.Type, url), ProtocolJsonContext.Default.EnvelopePortSignalData, "port signal emitted");
    }

    public static Results<JsonHttpResult<Envelope<PortSignalData>>, JsonHttpResult<ErrorResponse>> PortAlt(string port, string type, HttpContext http, SandboxContext sandbox, SignalService signals, PublicUrls urls)
    {
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            return Api.BadRequest($"'{port}' is not a TCP port number (1-65535).");
        }

        if (type is not ("open" or "close"))
        {
            return Api.BadRequest("The type must be \"open\" or \"close\".");
        }

        var url = urls.PreviewUrl(number, sandbox.Subdomain, http.Request.Host.Host);
        signals.EmitPort(sandbox, number, type, url);
        return Api.Ok(new PortSignalData(number, type, url), ProtocolJsonContext.Default.EnvelopePortSignalData, "port signal emitted");
    }

    public static async Task<Results<JsonHttpResult<Envelope<ErrorSignalData>>, JsonHttpResult<ErrorResponse>>> ErrorAsync(HttpContext http, SandboxContext sandbox, SignalService signals, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.ErrorSignalData, cancellationToken);

        if (body.Message is not { } message)
        {
            return Api.BadRequest("Field 'message' is required.");
        }

        signals.EmitError(sandbox, message);
        return Api.Ok(new ErrorSignalData(message), ProtocolJsonContext.Default.EnvelopeErrorSignalData, "error signal emitted");
    }

    public static async Task<Results<JsonHttpResult<Envelope<PortSignalData>>, JsonHttpResult<ErrorResponse>>> ServerReadyAsync(HttpContext http, SandboxContext sandbox, SignalService signals, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.PortSignalRequest, cancellationToken);

        if (!TryPort(body.Port, out var port))
        {
            return Api.BadRequest("Field 'port' must be a TCP port number (1-65535).");
        }

        var url = body.Url ?? "";
        signals.EmitServerReady(sandbox, port, url);
        return Api.Ok(new PortSignalData(port, "open", url), ProtocolJsonContext.Default.EnvelopePortSignalData, "server-ready signal emitted");
    }

    private static bool TryPort(double? value, out int port)
    {
        port = value is { } v && v == Math.Floor(v) && v is >= 1 and <= 65535 ? (int)v : 0;
        return port != 0;
    }
}
