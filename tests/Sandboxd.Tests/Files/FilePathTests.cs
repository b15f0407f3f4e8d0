using System.Text.Json;
using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Files;

/// <summary>Request targets sent byte-for-byte: invalid encodings, NUL and dot segments.</summary>
public sealed class FilePathTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private static void ShouldBeJsonError(RawReply reply, int status)
    {
        reply.Status.Should().Be(status, reply.Headers + "\n" + reply.Body);
        using var json = JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("status").GetString().Should().Be("error");
        json.RootElement.GetProperty("error").GetString().Should().NotBeNullOrEmpty();
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/files/%FF.txt")]
    [InlineData("GET", "/files/%C3%28.txt")]
    [InlineData("GET", "/files//tmp/%FE%FF?content=true")]
    [InlineData("DELETE", "/files/%FF.txt")]
    public async Task Invalid_utf8_percent_encoding_in_the_path_answers_400_json(string method, string target)
    {
        var reply = await RawHttp.SendAsync(Agent, method, target, TestContext.Current.CancellationToken);

        ShouldBeJsonError(reply, 400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Invalid_utf8_percent_encoding_on_head_answers_400()
    {
        var reply = await RawHttp.SendAsync(Agent, "HEAD", "/files/%FF.txt", TestContext.Current.CancellationToken);

        reply.Status.Should().Be(400);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/files/a%00b.txt")]
    [InlineData("GET", "/files/a%00b.txt?content=true")]
    [InlineData("DELETE", "/files/a%00b.txt")]
    [InlineData("HEAD", "/files/a%00b.txt")]
    public async Task A_nul_in_the_path_answers_400(string method, string target)
    {
        var ct = TestContext.Current.CancellationToken;

        var reply = await RawHttp.SendAsync(Agent, method, target, ct);

        reply.Status.Should().Be(400, reply.Headers + "\n" + reply.Body);
        (await Agent.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_nul_in_a_body_path_answers_400_json()
    {
        var response = await Agent.Client.PostJsonAsync("/files", """{"path":"nul\u0000name.txt","content":"x"}""", TestContext.Current.CancellationToken);

        response.ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_nul_in_a_batch_path_fails_that_entry_only()
    {
        var response = await Agent.Client.PostJsonAsync("/files/batch",
            """{"files":[{"path":"ok-next-to-nul.txt","operation":"write","content":"x"},{"path":"bad\u0000.txt","operation":"write","content":"x"}]}""",
            TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(207);
        var results = response.Envelope(AgentClient.Wire.EnvelopeBatchFilesData).Results;
        results.Single(r => r.Path == "ok-next-to-nul.txt").Success.Should().BeTrue();
        results.Single(r => r.Path != "ok-next-to-nul.txt").Success.Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Dot_dot_segments_in_a_raw_path_are_normalised()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "dotdot.txt"), "normalised", ct);

        var reply = await RawHttp.SendAsync(Agent, "GET", "/files/sub/../sub2/./../dotdot.txt?content=true", ct);

        reply.Status.Should().Be(200, reply.Body);
        using var json = JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("data").GetProperty("content").GetString().Should().Be("normalised");
        json.RootElement.GetProperty("data").GetProperty("file").GetProperty("path").GetString().Should().Be(Path.Combine(Agent.Root, "dotdot.txt"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Dot_dot_segments_in_an_absolute_raw_path_are_normalised()
    {
        var ct = TestContext.Current.CancellationToken;
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "abs-dotdot.txt"), "abs", ct);
        var target = "/files/" + Agent.Root + "/nothing/../abs-dotdot.txt?content=true";

        var reply = await RawHttp.SendAsync(Agent, "GET", target, ct);

        reply.Status.Should().Be(200, reply.Body);
        using var json = JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("data").GetProperty("file").GetProperty("path").GetString().Should().Be(Path.Combine(Agent.Root, "abs-dotdot.txt"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Dot_dot_segments_in_a_body_path_are_normalised()
    {
        var response = await Agent.Client.PostAsync("/files", new WriteFileRequest("body-sub/../body-dotdot.txt", "x"), AgentClient.Wire.WriteFileRequest,
            TestContext.Current.CancellationToken);

        response.ShouldHaveStatus(201);
        response.Data.GetProperty("file").GetProperty("path").GetString().Should().Be(Path.Combine(Agent.Root, "body-dotdot.txt"));
        File.Exists(Path.Combine(Agent.Root, "body-dotdot.txt")).Should().BeTrue();
        Directory.Exists(Path.Combine(Agent.Root, "body-sub")).Should().BeFalse("the path is normalised before parents are created");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_trailing_slash_names_the_same_entry()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "trailing"));

        var reply = await RawHttp.SendAsync(Agent, "GET", "/files/trailing/", ct);

        reply.Status.Should().Be(200, reply.Body);
        using var json = JsonDocument.Parse(reply.Body);
        json.RootElement.GetProperty("data").GetProperty("file").GetProperty("name").GetString().Should().Be("trailing");
    }

    [Fact(Timeout = 30_000)]
    public async Task An_encoded_slash_inside_a_segment_is_a_path_separator_after_decoding()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "enc-slash"));
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, "enc-slash", "f.txt"), "slash", ct);

        var reply = await RawHttp.SendAsync(Agent, "GET", "/files/enc-slash%2Ff.txt?content=true", ct);

        reply.Status.Should().Be(200, reply.Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_agent_keeps_serving_after_hostile_paths()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var target in new[] { "/files/%", "/files/%zz", "/files/%F", "/files/" + new string('a', 5000), "/files//////", "/files/%2e%2e/%2e%2e/etc/hostname" })
        {
            var reply = await RawHttp.SendAsync(Agent, "GET", target, ct);
            reply.Status.Should().BeLessThan(500, $"{target} → {reply.Status} {reply.Body}");
        }

        (await Agent.Anonymous.GetAsync("/health", ct)).ShouldHaveStatus(200);
    }
}
