namespace Sandboxd.ProcessList;

/// <summary>The processes of a sandbox and signals to them (an extension, docs/protocol-notes.md).</summary>
internal static class ProcessListFeature
{
    public static IEndpointRouteBuilder MapProcessList(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/processes", ProcessListEndpoints.List);
        routes.MapPost("/processes/{pid:int}/signal", ProcessListEndpoints.SignalAsync);
        return routes;
    }
}
