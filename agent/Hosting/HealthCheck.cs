namespace Sandboxd.Hosting;

/// <summary><c>sandboxd health [--url U]</c>: a container HEALTHCHECK that needs no curl in the image.</summary>
internal static class HealthCheck
{
    public static async Task<int> RunAsync(string[] args)
    {
        var url = Environment.GetEnvironmentVariable("SANDBOXD_URL") ?? "http://127.0.0.1:18080";
        for (var i = 1; i < args.Length - 1; i++)
        {
            if (args[i] == "--url")
            {
                url = args[i + 1];
            }
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(new Uri(url.TrimEnd('/') + "/health"));
            if (response.IsSuccessStatusCode)
            {
                return 0;
            }

            await Console.Error.WriteLineAsync($"sandboxd health: {url} answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            await Console.Error.WriteLineAsync($"sandboxd health: {url}: {e.Message}");
        }

        return 1;
    }
}
