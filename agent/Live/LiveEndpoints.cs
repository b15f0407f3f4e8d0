using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;
using Sandboxd.Telemetry;
using Sandboxd.WebSockets;

namespace Sandboxd.Live;

internal static class LiveEndpoints
{
    /// <summary><c>GET /ws?token=…&amp;protocol=binary|json</c>: the token was checked by the auth middleware before this runs.</summary>
    public static async Task<Results<EmptyHttpResult, JsonHttpResult<ErrorResponse>>> ConnectAsync(HttpContext http, SandboxContext sandbox, LiveHub hub, AgentOptions options, IHostApplicationLifetime lifetime)
    {
        if (!WebSocketUpgrade.IsWebSocketRequest(http))
        {
            return Api.BadRequest("This endpoint speaks WebSocket only: send an Upgrade request.");
        }

        if (WebSocketUpgrade.Problem(http) is { } problem)
        {
            return Api.Error(problem.Kind, problem.Message);
        }

        var protocol = http.Request.Query["protocol"].ToString();
        var binary = protocol != "json"; // unknown or missing ⇒ binary, and text frames are accepted anyway
        using var socket = await WebSocketUpgrade.AcceptAsync(http);
        using var connection = new LiveConnection(socket, sandbox, http.Features.Get<AuthPrincipal>(), binary, options.WsBinaryOut);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        AgentMeter.OpenWebSockets.Add(1);
        try
        {
            await hub.RunAsync(connection, stopping.Token);
        }
        finally
        {
            AgentMeter.OpenWebSockets.Add(-1);
        }

        return TypedResults.Empty;
    }
}
