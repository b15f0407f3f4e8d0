using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;
using static Sandboxd.Tests.Infrastructure.ServerApi;

namespace Sandboxd.Tests.Sandboxes;

public sealed class ChildSandboxTests(AgentFixture fixture) : IClassFixture<AgentFixture>, IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private readonly List<string> _dirs = [];
    private AgentProcess Agent => fixture.Agent;
    private AgentClient Client => Agent.Client;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string TempDir(string prefix)
    {
        var dir = Directory.CreateTempSubdirectory(prefix).FullName;
        _dirs.Add(dir);
        return dir;
    }

    private async Task<JsonElement> CreateChildAsync(JsonObject body, int expected = 201)
    {
        var response = await Client.PostJsonAsync("/sandboxes", body.ToJsonString(), Ct);
        response.ShouldHaveStatus(expected);
        return response.Json;
    }

    [Fact(Timeout = 60_000)]
    public async Task Creating_a_child_with_directory_overlays_servers_name_namespace_and_envs_answers_a_top_level_sandbox_info()
    {
        var template = TempDir("sandboxd-child-template-");
        File.WriteAllText(Path.Combine(template, "seed.txt"), "seeded");
        var dir = Path.Combine(TempDir("sandboxd-child-"), "root");
        var name = "app-" + Guid.NewGuid().ToString("N")[..6];

        var child = await CreateChildAsync(new JsonObject
        {
            ["directory"] = dir,
            ["name"] = name,
            ["namespace"] = "team-a",
            ["envs"] = new JsonObject { ["CHILD_VAR"] = "child-value" },
            ["overlays"] = new JsonArray(new JsonObject { ["source"] = template, ["target"] = "app" }),
            ["servers"] = new JsonArray(new JsonObject { ["slug"] = "web", ["start"] = "echo $CHILD_VAR > env-seen.txt; " + PythonHttp, ["path"] = "app" }),
            ["templateId"] = "ignored", ["someUnknownKey"] = 1,
        });

        var sub = child.GetProperty("subdomain").GetString()!;
        child.GetProperty("is_main").GetBoolean().Should().BeFalse();
        child.GetProperty("directory").GetString().Should().Be(dir);
        child.GetProperty("url").GetString().Should().Be($"{Agent.BaseUrl.ToString().TrimEnd('/')}/s/{sub}");
        child.GetProperty("created_at").GetString().Should().NotBeNullOrEmpty();
        child.GetProperty("overlays").EnumerateArray().Single().GetProperty("target").GetString().Should().Be("app");
        child.GetProperty("servers").EnumerateArray().Single().GetProperty("slug").GetString().Should().Be("web");
        File.ReadAllText(Path.Combine(dir, "app", "seed.txt")).Should().Be("seeded");

        var web = await WaitForStatusAsync(Client, "web", "ready", Long, Ct, $"/s/{sub}");
        web.GetProperty("path").GetString().Should().Be(Path.Combine(dir, "app"));
        File.ReadAllText(Path.Combine(dir, "app", "env-seen.txt")).Trim().Should().Be("child-value");
        (await Client.GetAsync($"/s/{sub}/ready", Ct)).Json.GetProperty("servers").EnumerateArray()
            .Select(s => s.GetProperty("slug").GetString()).Should().Contain("web");

        var again = await CreateChildAsync(new JsonObject { ["name"] = name, ["namespace"] = "team-a" }, expected: 200);
        again.GetProperty("subdomain").GetString().Should().Be(sub, "same name and namespace is the same sandbox");
        var list = (await Client.GetAsync("/sandboxes", Ct)).Json.GetProperty("sandboxes").EnumerateArray().ToList();
        list[0].GetProperty("is_main").GetBoolean().Should().BeTrue("main comes first");
        list.Count(s => s.GetProperty("subdomain").GetString() == sub).Should().Be(1);
        (await Client.GetAsync($"/sandboxes/{sub}", Ct)).Json.GetProperty("subdomain").GetString().Should().Be(sub);

        (await Client.DeleteAsync($"/sandboxes/{sub}?delete_files=true", Ct)).ShouldHaveStatus(204);
        Directory.Exists(dir).Should().BeFalse("delete_files=true removes the directory");
    }

    [Fact(Timeout = 60_000)]
    public async Task Routes_under_the_child_prefix_resolve_paths_cwd_env_files_and_servers_in_the_child_root()
    {
        var dir = TempDir("sandboxd-child-routes-");
        var child = await CreateChildAsync(new JsonObject { ["directory"] = dir, ["envs"] = new JsonObject { ["GREETING"] = "hello-child" } });
        var sub = child.GetProperty("subdomain").GetString()!;
        var p = $"/s/{sub}";
        try
        {
            (await Client.PostJsonAsync(p + "/files", """{"path":"notes/a.txt","content":"in child"}""", Ct)).Code.Should().BeOneOf(200, 201);
            File.ReadAllText(Path.Combine(dir, "notes/a.txt")).Should().Be("in child");
            File.Exists(Path.Combine(Agent.Root, "notes/a.txt")).Should().BeFalse();
            (await Client.GetAsync(p + "/files/notes/a.txt?content=true", Ct)).Data.GetProperty("content").GetString().Should().Be("in child");

            var run = await Client.PostJsonAsync(p + "/run/command", """{"command":"pwd; echo $GREETING"}""", Ct);
            run.ShouldHaveStatus(200);
            run.Data.GetProperty("stdout").GetString().Should().Be($"{dir}\nhello-child\n");

            (await Client.PostJsonAsync(p + "/env?file=.env", """{"variables":{"K":"v"}}""", Ct)).ShouldHaveStatus(200);
            File.ReadAllText(Path.Combine(dir, ".env")).Should().Contain("K=v");

            var term = await Client.PostJsonAsync(p + "/terminals", """{"pty":false}""", Ct);
            term.Code.Should().BeOneOf(200, 201);
            var termId = term.Data.GetProperty("id").GetString();
            (await Client.GetAsync(p + "/terminals", Ct)).Data.GetProperty("terminals").EnumerateArray()
                .Select(t => t.GetProperty("id").GetString()).Should().Contain(termId);
            (await Client.GetAsync("/terminals", Ct)).Data.GetProperty("terminals").EnumerateArray()
                .Select(t => t.GetProperty("id").GetString()).Should().NotContain(termId, "main does not see a child's terminals");

            await StartAsync(Client, new JsonObject { ["slug"] = "pwd-srv", ["start"] = "pwd > srv-cwd.txt; exec sleep 300", ["stop_timeout_ms"] = 1000 }, Ct, p);
            await Eventually.UntilAsync(() => File.Exists(Path.Combine(dir, "srv-cwd.txt")), Long, "the child server to write its cwd", Ct);
            (await Client.GetAsync("/servers/pwd-srv", Ct)).ShouldBeError(404);
        }
        finally
        {
            (await Client.DeleteAsync($"/sandboxes/{sub}?delete_files=false", Ct)).ShouldHaveStatus(204);
        }

        Directory.Exists(dir).Should().BeTrue("delete_files=false keeps the directory");
        File.Exists(Path.Combine(dir, "notes/a.txt")).Should().BeTrue();
        (await Client.GetAsync($"/sandboxes/{sub}", Ct)).ShouldBeError(404);
    }

    [Fact(Timeout = 60_000)]
    public async Task Two_children_cannot_see_each_others_terminals_servers_watchers_or_files()
    {
        var a = (await CreateChildAsync(new JsonObject { ["directory"] = TempDir("sandboxd-child-a-") })).GetProperty("subdomain").GetString()!;
        var b = (await CreateChildAsync(new JsonObject { ["directory"] = TempDir("sandboxd-child-b-") })).GetProperty("subdomain").GetString()!;
        try
        {
            var term = await Client.PostJsonAsync($"/s/{a}/terminals", """{"pty":false}""", Ct);
            var termId = term.Data.GetProperty("id").GetString()!;
            await StartAsync(Client, new JsonObject { ["slug"] = "only-a", ["start"] = "exec sleep 300", ["stop_timeout_ms"] = 1000 }, Ct, $"/s/{a}");
            var watcher = await Client.PostJsonAsync($"/s/{a}/watchers", """{"path":"."}""", Ct);
            watcher.Code.Should().BeOneOf([200, 201], watcher.Describe());
            var watcherId = watcher.Data.GetProperty("id").GetString()!;
            (await Client.PostJsonAsync($"/s/{a}/files", """{"path":"secret-a.txt","content":"a"}""", Ct)).Code.Should().BeOneOf(200, 201);

            (await Client.GetAsync($"/s/{b}/terminals", Ct)).Data.GetProperty("terminals").EnumerateArray()
                .Select(t => t.GetProperty("id").GetString()).Should().NotContain(termId);
            (await Client.GetAsync($"/s/{b}/terminals/{termId}", Ct)).ShouldBeError(404);
            (await Client.GetAsync($"/s/{b}/servers", Ct)).Data.GetProperty("servers").EnumerateArray()
                .Select(s => s.GetProperty("slug").GetString()).Should().NotContain("only-a");
            (await Client.GetAsync($"/s/{b}/watchers", Ct)).Data.GetProperty("watchers").EnumerateArray()
                .Select(w => w.GetProperty("id").GetString()).Should().NotContain(watcherId);
            (await Client.GetAsync($"/s/{b}/files?path=.", Ct)).Data.GetProperty("files").EnumerateArray()
                .Select(f => f.GetProperty("name").GetString()).Should().NotContain("secret-a.txt");
            (await Client.GetAsync($"/s/{a}/files?path=.", Ct)).Data.GetProperty("files").EnumerateArray()
                .Select(f => f.GetProperty("name").GetString()).Should().Contain("secret-a.txt");
        }
        finally
        {
            await Client.DeleteAsync($"/sandboxes/{a}?delete_files=true", Ct);
            await Client.DeleteAsync($"/sandboxes/{b}?delete_files=true", Ct);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_main_is_a_400_and_an_unknown_child_is_a_404()
    {
        var main = (await Client.GetAsync("/sandboxes", Ct)).Json.GetProperty("sandboxes")[0];
        main.GetProperty("is_main").GetBoolean().Should().BeTrue();
        (await Client.DeleteAsync($"/sandboxes/{main.GetProperty("subdomain").GetString()}?delete_files=false", Ct)).ShouldBeError(400);
        (await Client.DeleteAsync("/sandboxes/sandbox-nope?delete_files=false", Ct)).ShouldBeError(404);
        (await Client.GetAsync("/sandboxes/sandbox-nope", Ct)).ShouldBeError(404);
    }

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

public sealed class BootSetupTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private readonly string _template = Directory.CreateTempSubdirectory("sandboxd-setup-template-").FullName;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Payload(string slug) => new JsonObject
    {
        ["overlays"] = new JsonArray(new JsonObject { ["source"] = _template, ["target"] = "boot-app" }),
        ["servers"] = new JsonArray(new JsonObject { ["slug"] = slug, ["start"] = PythonHttp, ["path"] = "boot-app", ["stop_timeout_ms"] = 2000 }),
    }.ToJsonString();

    private async Task ShouldHaveBootedAsync(AgentProcess agent, string slug)
    {
        File.ReadAllText(Path.Combine(agent.Root, "boot-app", "hello.txt")).Should().Be("boot");
        var ready = await Eventually.UntilAsync(async () => (await agent.Anonymous.GetAsync("/ready", Ct)).Json,
            r => r.GetProperty("servers").EnumerateArray().Any(s => s.GetProperty("slug").GetString() == slug && s.GetProperty("status").GetString() == "ready"),
            Long, "the boot server in /ready", Ct);
        ready.GetProperty("overlays").EnumerateArray().Single().GetProperty("target").GetString().Should().Be("boot-app");
    }

    [Fact(Timeout = 60_000)]
    public async Task The_COMPUTESDK_SETUP_B64_payload_creates_overlays_and_servers_at_boot()
    {
        File.WriteAllText(Path.Combine(_template, "hello.txt"), "boot");
        var b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(Payload("boot-env")));
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch { Environment = new Dictionary<string, string?> { ["COMPUTESDK_SETUP_B64"] = b64 } }, Ct);
        await ShouldHaveBootedAsync(agent, "boot-env");
    }

    [Fact(Timeout = 60_000)]
    public async Task The_setup_file_option_creates_overlays_and_servers_at_boot()
    {
        File.WriteAllText(Path.Combine(_template, "hello.txt"), "boot");
        var file = Path.Combine(_template, "..", Path.GetFileName(_template) + ".setup.json");
        File.WriteAllText(file, Payload("boot-file"));
        try
        {
            await using var agent = await AgentProcess.StartAsync(AgentLaunch.With("--setup", file), Ct);
            await ShouldHaveBootedAsync(agent, "boot-file");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData("!!! not base64 !!!")]
    [InlineData("eyJvdmVybGF5cyI6IFt7")]
    [InlineData("WzEsMiwzXQ==")]
    public async Task A_malformed_setup_payload_is_logged_and_the_agent_still_serves(string b64)
    {
        await using var agent = await AgentProcess.StartAsync(new AgentLaunch { Environment = new Dictionary<string, string?> { ["COMPUTESDK_SETUP_B64"] = b64 } }, Ct);
        (await agent.Anonymous.GetAsync("/health", Ct)).ShouldHaveStatus(200);
        var ready = await agent.Anonymous.GetAsync("/ready", Ct);
        ready.ShouldHaveStatus(200);
        ready.Json.GetProperty("servers").GetArrayLength().Should().Be(0);
        (await agent.Client.RunAsync("echo ok", Ct)).Stdout.Should().Be("ok\n");
    }

    public void Dispose() => Directory.Delete(_template, recursive: true);
}
