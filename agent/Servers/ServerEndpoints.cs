using Microsoft.AspNetCore.Http.HttpResults;
using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Servers;

internal static class ServerEndpoints
{
    public static async Task<Results<JsonHttpResult<Envelope<ServerData>>, JsonHttpResult<ErrorResponse>>> StartAsync(HttpContext http, SandboxContext sandbox, ServerSupervisor supervisor, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.StartServerRequest, cancellationToken);

        var config = ServerConfig.TryCreate(body, sandbox.Resolve, out var error);
        if (config is null)
        {
            return Api.BadRequest(error!);
        }

        var server = await supervisor.StartAsync(sandbox, config, cancellationToken);
        return Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData, "server starting", StatusCodes.Status201Created);
    }

    public static JsonHttpResult<Envelope<ServerList>> List(SandboxContext sandbox) =>
        Api.Ok(new ServerList([.. ServerSupervisor.List(sandbox).Select(s => s.ToInfo())]), ProtocolJsonContext.Default.EnvelopeServerList);

    public static Results<JsonHttpResult<Envelope<ServerData>>, JsonHttpResult<ErrorResponse>> Get(string slug, SandboxContext sandbox) =>
        ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server)
            ? Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData)
            : NotFound(slug);

    public static async Task<Results<JsonHttpResult<Envelope<ServerSlugData>>, JsonHttpResult<ErrorResponse>>> StopAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        await supervisor.StopAsync(server);
        return Api.Ok(new ServerSlugData(slug), ProtocolJsonContext.Default.EnvelopeServerSlugData, "server stopped");
    }

    public static async Task<Results<JsonHttpResult<Envelope<ServerData>>, JsonHttpResult<ErrorResponse>>> RestartAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        if (await supervisor.RestartAsync(server) is null)
        {
            return NotFound(slug);
        }

        return Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData, "server restarting");
    }

    public static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DeleteAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor) =>
        await supervisor.DeleteAsync(sandbox, slug) ? Api.NoContent() : NotFound(slug);

    public static Results<JsonHttpResult<Envelope<ServerLogsData>>, JsonHttpResult<ErrorResponse>> Logs(string slug, HttpContext http, SandboxContext sandbox)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        var stream = http.Request.Query["stream"].ToString();
        if (stream.Length == 0)
        {
            stream = "combined";
        }

        var log = stream switch
        {
            "stdout" => server.Stdout,
            "stderr" => server.Stderr,
            "combined" => server.Combined,
            _ => null,
        };
        return log is null
            ? Api.BadRequest($"Query 'stream' must be stdout, stderr or combined (got \"{stream}\").")
            : Api.Ok(new ServerLogsData(slug, stream, log.ReadAllText(out _)), ProtocolJsonContext.Default.EnvelopeServerLogsData);
    }

    public static async Task<Results<JsonHttpResult<Envelope<ServerStatusData>>, JsonHttpResult<ErrorResponse>>> UpdateStatusAsync(string slug, HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.ServerStatusData, cancellationToken);

        var status = body.Status;
        if (status is null || !ServerStatus.All.Contains(status))
        {
            return Api.BadRequest($"Field 'status' must be one of {string.Join(", ", ServerStatus.All)}.");
        }

        server.SetStatus(status, status == ServerStatus.Failed ? "set by PATCH /servers/{slug}/status" : null);
        return Api.Ok(new ServerStatusData(status, slug), ProtocolJsonContext.Default.EnvelopeServerStatusData, "status updated");
    }

    private static JsonHttpResult<ErrorResponse> NotFound(string slug) => Api.NotFound($"Server '{slug}' not found.");
}
