using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Sandboxd.Client.Tests;

public sealed class SandboxTests(SharedAgent shared)
{
    private readonly Agent _agent = shared.Agent;

    [Fact(Timeout = 180_000)]
    public async Task A_child_sandbox_gets_its_own_client_on_its_base_url_with_files_commands_and_streams()
    {
        var ct = TestContext.Current.CancellationToken;
        var name = "proj-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        await using var client = _agent.Client();

        var child = await client.Sandboxes.CreateAsync(new CreateSandboxRequest(Name: name, Namespace: "user-1"), ct);
        var again = await client.Sandboxes.CreateAsync(new CreateSandboxRequest(Name: name, Namespace: "user-1"), ct);
        await using var childClient = client.ForChild(child);
        await using var byName = client.OpenChild(child.Subdomain);

        childClient.BaseUrl.ToString().TrimEnd('/').Should().Be(client.BaseUrl.ToString().TrimEnd('/') + "/s/" + child.Subdomain);
        again.Subdomain.Should().Be(child.Subdomain, "creation is idempotent by name and namespace");
        await childClient.Files.WriteTextAsync("hello.txt", "from the child", ct);
        File.ReadAllText(Path.Combine(child.Directory, "hello.txt")).Should().Be("from the child");
        (await byName.Files.ReadTextAsync("hello.txt", ct)).Should().Be("from the child");
        (await childClient.Run.CommandAsync("pwd", ct)).Stdout.Should().Be(child.Directory + "\n");

        var streamed = new StringBuilder();
        await foreach (var e in childClient.Run.StreamAsync("cat hello.txt", ct))
        {
            if (e is StandardOutputCommandEvent o)
            {
                streamed.Append(o.Text);
            }
        }

        streamed.ToString().Should().Be("from the child");
        var all = await client.Sandboxes.ListAsync(ct);
        all[0].IsMain.Should().BeTrue();
        all.Select(s => s.Subdomain).Should().Contain(child.Subdomain);
        (await client.Sandboxes.GetAsync(child.Subdomain, ct)).Directory.Should().Be(child.Directory);

        await client.Sandboxes.DeleteAsync(child.Subdomain, deleteFiles: true, ct);

        var gone = () => client.Sandboxes.GetAsync(child.Subdomain, ct);
        (await gone.Should().ThrowAsync<SandboxdException>()).Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        Directory.Exists(child.Directory).Should().BeFalse();
    }

    [Fact(Timeout = 180_000)]
    public async Task The_announcements_all_together_example_runs_through_the_client()
    {
        var ct = TestContext.Current.CancellationToken;
        var template = Directory.CreateTempSubdirectory("sandboxd-react-template-").FullName;
        var workspace = _agent.NewDirectory("workspace");
        await File.WriteAllTextAsync(Path.Combine(template, "server.js"),
            "require('http').createServer((q, s) => s.end('react')).listen(+process.env.PORT, '127.0.0.1')", ct);
        await using var client = _agent.Client();
        try
        {
            var sandbox = await client.Sandboxes.CreateAsync(new CreateSandboxRequest(
                Name: "project-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)),
                Namespace: "user-42",
                Directory: workspace,
                Overlays: [new CreateOverlayRequest(template, "./react", Strategy: "smart")],
                Servers: [new StartServerRequest("react", "node server.js", Install: "true", Path: "./react", RestartPolicy: "on-failure")]), ct);
            await using var child = client.ForChild(sandbox);

            var server = await Eventually.UntilAsync(() => child.Servers.GetAsync("react", ct), s => s.Url is not null && s.Status == "ready",
                TimeSpan.FromSeconds(60), "the react server's url", ct);

            server.Path.Should().Be(Path.Combine(workspace, "react"));
            using var http = new HttpClient();
            (await http.GetStringAsync(new Uri($"http://127.0.0.1:{server.Port}/"), ct)).Should().Be("react");
            await client.Sandboxes.DeleteAsync(sandbox.Subdomain, deleteFiles: false, ct);
        }
        finally
        {
            Directory.Delete(template, recursive: true);
        }
    }
}
