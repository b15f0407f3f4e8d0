namespace Sandboxd.Files;

internal static class FilesFeature
{
    public static IEndpointRouteBuilder MapFiles(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/files", FileEndpoints.List);
        routes.MapPost("/files", FileEndpoints.WriteAsync);
        routes.MapPost("/files/batch", FileEndpoints.BatchAsync);
        routes.MapGet("/files/archive", ArchiveEndpoints.GetAsync);
        routes.MapPost("/files/archive", ArchiveEndpoints.ExtractAsync);
        routes.MapGet("/files/{**path}", RawFileEndpoints.Get);
        routes.MapPut("/files/{**path}", RawFileEndpoints.PutAsync);
        routes.MapMethods("/files/{**path}", [HttpMethods.Head], FileEndpoints.Head);
        routes.MapDelete("/files/{**path}", FileEndpoints.Delete);
        return routes;
    }
}
