using FluentAssertions;
using Sandboxd.Protocol;
using Sandboxd.Tests.Infrastructure;

namespace Sandboxd.Tests.Env;

public sealed class EnvFileTests(AgentFixture fixture) : IClassFixture<AgentFixture>
{
    private AgentProcess Agent => fixture.Agent;

    private static string Unique(string stem) => $"{stem}-{Guid.NewGuid():N}.env";

    private Task<ApiResponse> SetAsync(string file, IReadOnlyDictionary<string, string> variables) =>
        Agent.Client.PostAsync("/env?file=" + Uri.EscapeDataString(file), new EnvUpdateRequest(variables), AgentClient.Wire.EnvUpdateRequest,
            TestContext.Current.CancellationToken);

    [Fact(Timeout = 30_000)]
    public async Task Post_creates_the_file_with_bare_and_quoted_values_exactly()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("create");

        var response = await SetAsync(file, new Dictionary<string, string> { ["A"] = "1", ["B"] = "two words" });

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("file").GetString().Should().Be(file);
        response.Data.GetProperty("keys").EnumerateArray().Select(k => k.GetString()).Should().Equal("A", "B");
        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, file), ct)).Should().Be("A=1\nB=\"two words\"\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Post_creates_missing_parent_directories()
    {
        var ct = TestContext.Current.CancellationToken;

        (await SetAsync("env-parents/deep/.env", new Dictionary<string, string> { ["X"] = "y" })).ShouldHaveStatus(200);

        (await File.ReadAllTextAsync(Path.Combine(Agent.Root, "env-parents", "deep", ".env"), ct)).Should().Be("X=y\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Values_that_need_quoting_are_escaped_and_read_back_unchanged()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("escape");
        var variables = new Dictionary<string, string>
        {
            ["EMPTY"] = "",
            ["QUOTE"] = "say \"hi\"",
            ["BACKSLASH"] = @"C:\path",
            ["NEWLINE"] = "line1\nline2",
            ["URL"] = "https://user@host:8080/p.a_t-h+x",
            ["HASH"] = "a#b",
            ["DOLLAR"] = "$HOME",
        };

        (await SetAsync(file, variables)).ShouldHaveStatus(200);

        var text = await File.ReadAllTextAsync(Path.Combine(Agent.Root, file), ct);
        text.Should().Contain("EMPTY=\"\"\n").And.Contain("URL=https://user@host:8080/p.a_t-h+x\n").And.Contain("NEWLINE=\"line1\\nline2\"\n");
        var read = await Agent.Client.GetAsync("/env?file=" + file, ct);
        read.Envelope(AgentClient.Wire.EnvelopeEnvData).Variables.Should().BeEquivalentTo(variables);
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_parses_export_prefixes_quotes_comments_and_blank_lines()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("parse");
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, file),
            "# a comment\n\nexport EXPORTED=yes\nDOUBLE=\"two words\"\nSINGLE='lit $eral \\n'\nBARE=  trimmed  \nESC=\"a\\\"b\\\\c\\nd\"\n  # indented comment\nNOEQUALS\n",
            ct);

        var response = await Agent.Client.GetAsync("/env?file=" + file, ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("file").GetString().Should().Be(file);
        response.Envelope(AgentClient.Wire.EnvelopeEnvData).Variables.Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["EXPORTED"] = "yes",
            ["DOUBLE"] = "two words",
            ["SINGLE"] = "lit $eral \\n",
            ["BARE"] = "trimmed",
            ["ESC"] = "a\"b\\c\nd",
        });
    }

    [Fact(Timeout = 30_000)]
    public async Task Post_updates_in_place_appends_new_keys_and_preserves_comments_and_blank_lines()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("merge");
        var path = Path.Combine(Agent.Root, file);
        await File.WriteAllTextAsync(path, "# header\nA=old\n\n# middle\nB=keep\n", ct);

        var response = await Agent.Client.PostJsonAsync("/env?file=" + file, """{"variables":{"C":"new","A":"updated"}}""", ct);

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("keys").EnumerateArray().Select(k => k.GetString()).Should().Equal("C", "A");
        (await File.ReadAllTextAsync(path, ct)).Should().Be("# header\nA=updated\n\n# middle\nB=keep\nC=new\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Delete_removes_the_listed_keys_and_reports_only_those_that_existed()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("delete");
        var path = Path.Combine(Agent.Root, file);
        await File.WriteAllTextAsync(path, "# keep this comment\nA=1\nB=2\n\nC=3\n", ct);

        var response = await Agent.Client.DeleteAsync("/env?file=" + file, ct, """{"keys":["C","MISSING","A"]}""");

        response.ShouldHaveStatus(200);
        response.Data.GetProperty("file").GetString().Should().Be(file);
        response.Data.GetProperty("keys").EnumerateArray().Select(k => k.GetString()).Should().Equal("C", "A");
        (await File.ReadAllTextAsync(path, ct)).Should().Be("# keep this comment\nB=2\n\n");
    }

    [Fact(Timeout = 30_000)]
    public async Task Delete_on_a_missing_file_answers_404_json()
    {
        var response = await Agent.Client.DeleteAsync("/env?file=" + Unique("absent"), TestContext.Current.CancellationToken, """{"keys":["A"]}""");

        response.ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Head_answers_200_when_the_file_exists_and_404_otherwise()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("head");
        await File.WriteAllTextAsync(Path.Combine(Agent.Root, file), "A=1\n", ct);

        (await Agent.Client.HeadAsync("/env?file=" + file, ct)).ShouldHaveStatus(200);
        (await Agent.Client.HeadAsync("/env?file=" + Unique("head-missing"), ct)).ShouldHaveStatus(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_on_a_missing_file_answers_404_json()
    {
        (await Agent.Client.GetAsync("/env?file=" + Unique("missing"), TestContext.Current.CancellationToken)).ShouldBeError(404);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_file_query_is_form_decoded_and_absolute_paths_work()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Path.Combine(Agent.Root, "env dir"));
        var absolute = Path.Combine(Agent.Root, "env dir", "abs.env");
        await File.WriteAllTextAsync(absolute, "ABS=1\n", ct);

        var plus = await Agent.Client.GetAsync("/env?file=env+dir%2Fabs.env", ct);
        var full = await Agent.Client.GetAsync("/env?file=" + Uri.EscapeDataString(absolute), ct);

        plus.ShouldHaveStatus(200);
        plus.Data.GetProperty("variables").GetProperty("ABS").GetString().Should().Be("1");
        full.ShouldHaveStatus(200);
        full.Data.GetProperty("file").GetString().Should().Be(absolute);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_missing_file_query_answers_400_json()
    {
        (await Agent.Client.GetAsync("/env", TestContext.Current.CancellationToken)).ShouldBeError(400);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_invalid_variable_name_answers_400_json_and_leaves_the_file_alone()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("badname");

        var response = await Agent.Client.PostJsonAsync("/env?file=" + file, """{"variables":{"GOOD":"1","BAD KEY":"2"}}""", ct);

        response.ShouldBeError(400);
        File.Exists(Path.Combine(Agent.Root, file)).Should().BeFalse();
    }

    [Fact(Timeout = 30_000)]
    public async Task Concurrent_updates_to_one_file_lose_no_key()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("concurrent");

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            SetAsync(file, new Dictionary<string, string> { [$"K{i}"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) })));

        var response = await Agent.Client.GetAsync("/env?file=" + file, ct);
        response.Envelope(AgentClient.Wire.EnvelopeEnvData).Variables.Keys.Should().HaveCount(20);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_env_file_written_by_the_api_is_sourceable_by_a_posix_shell()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Unique("source");
        (await SetAsync(file, new Dictionary<string, string> { ["GREETING"] = "hello world", ["N"] = "42" })).ShouldHaveStatus(200);

        var result = await Agent.Client.RunAsync($". ./{file}; printf '%s|%s' \"$GREETING\" \"$N\"", ct);

        result.Stdout.Should().Be("hello world|42");
    }
}
