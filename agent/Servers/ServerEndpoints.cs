using Sandboxd.Core;
using Sandboxd.Protocol;

namespace Sandboxd.Servers;

internal static class ServerEndpoints
{
    public static async Task<IResult> StartAsync(HttpContext http, SandboxContext sandbox, ServerSupervisor supervisor, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.StartServerRequest, optional: false, cancellationToken);
        if (body.Error is not null)
        {
            return body.Error;
        }

        var config = ServerConfig.TryCreate(body.Value!, sandbox.Resolve, out var error);
        if (config is null)
        {
            return Api.BadRequest(error!);
        }

        var (server, conflict) = await supervisor.StartAsync(sandbox, config, cancellationToken);
        if (server is null)
        {
            return Api.Error(StatusCodes.Status409Conflict, conflict!);
        }

        return Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData, "server starting", StatusCodes.Status201Created);
    }

    public static IResult List(SandboxContext sandbox) =>
        Api.Ok(new ServerList([.. ServerSupervisor.List(sandbox).Select(s => s.ToInfo())]), ProtocolJsonContext.Default.EnvelopeServerList);

    public static IResult Get(string slug, SandboxContext sandbox) =>
        ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server)
            ? Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData)
            : NotFound(slug);

    public static async Task<IResult> StopAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        await supervisor.StopAsync(server);
        return Api.Ok(new ServerSlugData(slug), ProtocolJsonContext.Default.EnvelopeServerSlugData, "server stopped");
    }

    public static async Task<IResult> RestartAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        await supervisor.RestartAsync(server);
        return Api.Ok(new ServerData(server.ToInfo()), ProtocolJsonContext.Default.EnvelopeServerData, "server restarting");
    }

    public static async Task<IResult> DeleteAsync(string slug, SandboxContext sandbox, ServerSupervisor supervisor) =>
        await supervisor.DeleteAsync(sandbox, slug) ? Api.NoContent() : NotFound(slug);

    public static IResult Logs(string slug, HttpContext http, SandboxContext sandbox)
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

    public static async Task<IResult> UpdateStatusAsync(string slug, HttpContext http, SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (!ServerSupervisor.Registry(sandbox).TryGetValue(slug, out var server))
        {
            return NotFound(slug);
        }

        var body = await RequestBody.ReadAsync(http.Request, ProtocolJsonContext.Default.ServerStatusData, optional: false, cancellationToken);
        if (body.Error is not null)
        {
            return body.Error;
        }

        var status = body.Value!.Status;
        if (status is null || !ServerStatus.All.Contains(status))
        {
            return Api.BadRequest($"Field 'status' must be one of {string.Join(", ", ServerStatus.All)}.");
        }

        server.SetStatus(status, status == ServerStatus.Failed ? "set by PATCH /servers/{slug}/status" : null);
        return Api.Ok(new ServerStatusData(status, slug), ProtocolJsonContext.Default.EnvelopeServerStatusData, "status updated");
    }

    private static IResult NotFound(string slug) => Api.NotFound($"Server '{slug}' not found.");
}
