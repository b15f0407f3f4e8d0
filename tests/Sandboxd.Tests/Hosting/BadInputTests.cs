using System.Net.Http.Headers;
using System.Text;
using FluentAssertions;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Hosting;

/// <summary>A fixture whose agent accepts at most 1 KiB of request body.</summary>
public sealed class SmallBodyAgentFixture : AgentFixture
{
    protected override AgentLaunch Launch => AgentLaunch.With("--max-body", "1024");
}

/// <summary>Every kind of broken request gets a JSON 4xx, and the agent keeps serving afterwards.</summary>
public sealed class BadInputTests(SmallBodyAgentFixture fixture) : IClassFixture<SmallBodyAgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    [Theory(Timeout = 30_000)]
    [InlineData("/run/command", """{"command": "echo hi" """)]
    [InlineData("/run/command", "not json at all")]
    [InlineData("/run/command", "null")]
    [InlineData("/run/command", """{"command": 5}""")]
    [InlineData("/run/command", """{"command": "true", "background": "yes"}""")]
    [InlineData("/run/command", """{"command": "true", "env": {"A": 1}}""")]
    [InlineData("/run/command", """{}""")]
    [InlineData("/run/command", """[]""")]
    [InlineData("/run/command", "\"just a string\"")]
    [InlineData("/run/code", """{"language": "python"}""")]
    [InlineData("/run/code", """{"code": ["print(1)"]}""")]
    [InlineData("/files", """{"content": "no path"}""")]
    [InlineData("/files", """{"path": 7}""")]
    [InlineData("/files/batch", """{}""")]
    [InlineData("/files/batch", """{"files": "a.txt"}""")]
    [InlineData("/env?file=.env", """{"variables": ["A"]}""")]
    [InlineData("/env?file=.env", """{"variables": {"A": 1}}""")]
    [InlineData("/terminals", """{"pty": "yes"}""")]
    public async Task A_malformed_or_mistyped_body_answers_400_json_and_the_agent_keeps_serving(string path, string body)
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.PostJsonAsync(path, body, ct);

        response.ShouldBeError(400);
        await ShouldStillServeAsync(ct);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/run/command")]
    [InlineData("/run/code")]
    [InlineData("/files")]
    [InlineData("/files/batch")]
    [InlineData("/env?file=.env")]
    public async Task An_empty_body_answers_400_json(string path)
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.SendAsync(HttpMethod.Post, path, null, ct,
            r => r.Content = new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        response.ShouldBeError(400);
        await ShouldStillServeAsync(ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_body_without_a_content_type_is_still_read_as_json_or_rejected_with_json()
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.SendAsync(HttpMethod.Post, "/run/command", null, ct,
            r => r.Content = new ByteArrayContent("""{"command":"echo ok"}"""u8.ToArray()));

        response.Code.Should().BeOneOf([200, 400, 415], response.Describe());
        response.Json.GetProperty("status").GetString().Should().NotBeNull();
        await ShouldStillServeAsync(ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_delete_env_without_a_body_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;
        await Agent.Client.WriteFileAsync("bad-input.env", "A=1\n", ct);

        var response = await Agent.Client.DeleteAsync("/env?file=bad-input.env", ct);

        response.ShouldBeError(400);
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "bad-input.env"), ct)).Should().Be("A=1\n");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/run/command")]
    [InlineData("/files")]
    [InlineData("/files/batch")]
    [InlineData("/env?file=big.env")]
    public async Task An_oversized_body_answers_413_json(string path)
    {
        var ct = TestContext.Current.CancellationToken;
        var body = Encoding.UTF8.GetBytes($$"""{"command":"echo {{new string('x', 10 * 1024)}}","path":"big.txt","content":"x"}""");

        var reply = await RawHttp.SendRawAsync(Agent, "POST", path, $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n", body, ct);

        ShouldBeJsonError(reply, 413);
        File.Exists(Path.Combine(Agent.Root, "big.txt")).Should().BeFalse();
        await ShouldStillServeAsync(ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_oversized_chunked_body_answers_413_json()
    {
        var ct = TestContext.Current.CancellationToken;
        var json = Encoding.UTF8.GetBytes($$"""{"path":"chunked.txt","content":"{{new string('y', 10 * 1024)}}"}""");

        var reply = await RawHttp.SendRawAsync(Agent, "POST", "/files",
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", RawHttp.Chunked(json, 512), ct);

        ShouldBeJsonError(reply, 413);
        File.Exists(Path.Combine(Agent.Root, "chunked.txt")).Should().BeFalse();
        await ShouldStillServeAsync(ct);
    }

    private static void ShouldBeJsonError(RawReply reply, int status)
    {
        reply.Status.Should().Be(status, reply.Headers + "\n" + reply.Body);
        using var json = System.Text.Json.JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("status").GetString().Should().Be("error");
        json.RootElement.GetProperty("error").GetString().Should().NotBeNullOrEmpty();
    }

    [Fact(Timeout = 30_000)]
    public async Task A_body_just_under_the_limit_is_accepted()
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.PostJsonAsync("/files", $$"""{"path":"small.txt","content":"{{new string('z', 900)}}"}""", ct);

        response.ShouldHaveStatus(201);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_nul_character_in_a_command_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;

        var response = await Agent.Client.PostJsonAsync("/run/command", """{"command":"echo a\u0000b"}""", ct);

        response.ShouldBeError(400);
        await ShouldStillServeAsync(ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task Invalid_utf8_in_a_json_body_answers_400_json()
    {
        var ct = TestContext.Current.CancellationToken;
        var bytes = "{\"command\":\"echo "u8.ToArray().Concat(new byte[] { 0xFF, 0xFE }).Concat("\"}"u8.ToArray()).ToArray();

        var response = await Agent.Client.SendAsync(HttpMethod.Post, "/run/command", null, ct,
            r => r.Content = new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        response.ShouldBeError(400);
        await ShouldStillServeAsync(ct);
    }

    private async Task ShouldStillServeAsync(CancellationToken ct)
    {
        (await Agent.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);
        Agent.HasExited.Should().BeFalse();
    }
}
